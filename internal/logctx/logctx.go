// Package logctx carries log attributes in a context: a request or a task gets a bag of
// attributes (request id, session id, ...) that code anywhere below may add to, and a
// slog.Handler wrapper adds the bag to every record logged with that context. The API's
// access log and the worker's task log therefore carry the session id a handler learned,
// without the handler returning it.
package logctx

import (
	"context"
	"log/slog"
	"sync"
)

type bagKey struct{}

// bag is the mutable attribute list of one request or task.
type bag struct {
	mu    sync.Mutex
	attrs []slog.Attr
}

// New returns ctx with a new bag holding args (slog key-value pairs or slog.Attr values) after
// the attributes of the bag ctx already carries, if any. Attributes added to the new bag do
// not reach the parent's.
func New(ctx context.Context, args ...any) context.Context {
	b := &bag{attrs: Attrs(ctx)}
	b.attrs = append(b.attrs, argsToAttrs(args)...)
	return context.WithValue(ctx, bagKey{}, b)
}

// Add appends args (slog key-value pairs or slog.Attr values) to the bag of ctx. A key already
// in the bag is replaced. It reports false when ctx has no bag.
func Add(ctx context.Context, args ...any) bool {
	b, _ := ctx.Value(bagKey{}).(*bag)
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, a := range argsToAttrs(args) {
		replaced := false
		for i := range b.attrs {
			if b.attrs[i].Key == a.Key {
				b.attrs[i], replaced = a, true
				break
			}
		}
		if !replaced {
			b.attrs = append(b.attrs, a)
		}
	}
	return true
}

// Attrs returns a copy of the attributes of ctx's bag (nil when it has none).
func Attrs(ctx context.Context) []slog.Attr {
	b, _ := ctx.Value(bagKey{}).(*bag)
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.attrs) == 0 {
		return nil
	}
	return append([]slog.Attr(nil), b.attrs...)
}

// Value returns the value of key in ctx's bag.
func Value(ctx context.Context, key string) (slog.Value, bool) {
	for _, a := range Attrs(ctx) {
		if a.Key == key {
			return a.Value, true
		}
	}
	return slog.Value{}, false
}

func argsToAttrs(args []any) []slog.Attr {
	if len(args) == 0 {
		return nil
	}
	// A Record collects key-value pairs and Attrs exactly as slog's loggers do.
	var r slog.Record
	r.Add(args...)
	out := make([]slog.Attr, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		out = append(out, a)
		return true
	})
	return out
}

// NewHandler wraps h so that every record logged with a context carrying a bag gets the bag's
// attributes (after the record's own).
func NewHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(handler); ok {
		return h
	}
	return handler{h}
}

type handler struct{ inner slog.Handler }

func (h handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	if attrs := Attrs(ctx); len(attrs) > 0 {
		r = r.Clone()
		r.AddAttrs(attrs...)
	}
	return h.inner.Handle(ctx, r)
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return handler{h.inner.WithAttrs(attrs)}
}

func (h handler) WithGroup(name string) slog.Handler { return handler{h.inner.WithGroup(name)} }
