package minilang

import (
	"strings"
	"unicode/utf8"
)

type tokKind int

const (
	tEOF    tokKind = iota
	tName           // identifier, including the word operators and null/true/false
	tString         // double-quoted string; text is the decoded value
	tNumber         // signed number; text is the source
	tOp             // == != > >= < <=
	tPunct          // ( ) [ ] , ! & | + -
)

type token struct {
	kind tokKind
	text string // decoded text (strings) or source text
	raw  string // source text
	pos  int    // byte offset
}

func isNameStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isNameChar(c byte) bool { return isNameStart(c) || isDigit(c) }

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// checkText refuses what can never be a valid expression and could not reach PostgreSQL as
// text: overlong input, invalid UTF-8 and NUL.
func checkText(s string, order bool) *Error {
	e := func(pos int, msg string) *Error { return &Error{Order: order, Pos: pos, Msg: msg} }
	if len(s) > MaxLength {
		return e(MaxLength, "expression longer than 4096 bytes")
	}
	if !utf8.ValidString(s) {
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n <= 1 {
				return e(i, "invalid UTF-8 at "+position(s, i))
			}
			i += n
		}
	}
	if i := strings.IndexByte(s, 0); i >= 0 {
		return e(i, "NUL character at "+position(s, i))
	}
	return nil
}

// position formats a byte offset as "line L, column C" (1-based, columns in characters).
func position(s string, pos int) string {
	if pos > len(s) {
		pos = len(s)
	}
	line, start := 1, 0
	for i := 0; i < pos; i++ {
		if s[i] == '\n' {
			line++
			start = i + 1
		}
	}
	return "line " + itoa(line) + ", column " + itoa(utf8.RuneCountInString(s[start:pos])+1)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// lexFilter splits a filter expression into tokens. The input is at most MaxLength bytes, so
// the token list is bounded too.
func lexFilter(s string) ([]token, *Error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case isSpace(c):
			i++
		case isNameStart(c):
			j := i + 1
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
			toks = append(toks, token{kind: tName, text: s[i:j], raw: s[i:j], pos: i})
			i = j
		case c == '"':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(s) {
				if s[j] == '\\' && j+1 < len(s) {
					// Only \" is an escape; any other backslash pair is kept as written.
					if s[j+1] == '"' {
						b.WriteByte('"')
					} else {
						b.WriteString(s[j : j+2])
					}
					j += 2
					continue
				}
				if s[j] == '"' {
					closed = true
					break
				}
				b.WriteByte(s[j])
				j++
			}
			if !closed {
				return nil, filterErr(i, s[i:], "Unterminated string at %s", position(s, i))
			}
			toks = append(toks, token{kind: tString, text: b.String(), raw: s[i : j+1], pos: i})
			i = j + 1
		case isDigit(c) || c == '.' || ((c == '+' || c == '-') && i+1 < len(s) && (isDigit(s[i+1]) || s[i+1] == '.')):
			j := i
			if c == '+' || c == '-' {
				j++
			}
			for j < len(s) && (isNameChar(s[j]) || s[j] == '.' ||
				((s[j] == '+' || s[j] == '-') && (s[j-1] == 'e' || s[j-1] == 'E'))) {
				j++
			}
			toks = append(toks, token{kind: tNumber, text: s[i:j], raw: s[i:j], pos: i})
			i = j
		case c == '=' || c == '!' || c == '<' || c == '>':
			if i+1 < len(s) && s[i+1] == '=' {
				toks = append(toks, token{kind: tOp, text: s[i : i+2], raw: s[i : i+2], pos: i})
				i += 2
				continue
			}
			switch c {
			case '!':
				toks = append(toks, token{kind: tPunct, text: "!", raw: "!", pos: i})
			case '<', '>':
				toks = append(toks, token{kind: tOp, text: s[i : i+1], raw: s[i : i+1], pos: i})
			default:
				return nil, filterErr(i, "=", "Unexpected character '=' at %s", position(s, i))
			}
			i++
		case strings.IndexByte("()[],&|", c) >= 0:
			toks = append(toks, token{kind: tPunct, text: s[i : i+1], raw: s[i : i+1], pos: i})
			i++
		default:
			_, n := utf8.DecodeRuneInString(s[i:])
			return nil, filterErr(i, s[i:i+n], "Unexpected character '%s' at %s", s[i:i+n], position(s, i))
		}
	}
	toks = append(toks, token{kind: tEOF, pos: len(s)})
	return toks, nil
}
