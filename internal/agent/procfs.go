package agent

import (
	"os"
	"strconv"
	"strings"
)

// procStatus is what the runtime reads of one process in /proc/<pid>/stat.
type procStatus struct {
	pid   string
	state string // "R", "S", ..., "Z" (zombie), "X" (dead)
	pgrp  int
	ticks int64 // utime + stime, in clock ticks
	pages int64 // resident set size, in pages
}

// live reports whether the process is neither a zombie nor dead.
func (p procStatus) live() bool { return p.state != "Z" && p.state != "X" }

// readProcStat reads /proc/<pid>/stat.
func readProcStat(pid string) (procStatus, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return procStatus{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStatus{}, false
	}
	// Fields after the command: state(0) ppid(1) pgrp(2) ... utime(11) stime(12) ... rss(21).
	f := strings.Fields(s[i+1:])
	if len(f) < 22 {
		return procStatus{}, false
	}
	pgrp, err1 := strconv.Atoi(f[2])
	utime, err2 := strconv.ParseInt(f[11], 10, 64)
	stime, err3 := strconv.ParseInt(f[12], 10, 64)
	rss, err4 := strconv.ParseInt(f[21], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return procStatus{}, false
	}
	return procStatus{pid: pid, state: f[0], pgrp: pgrp, ticks: utime + stime, pages: rss}, true
}

// eachProc calls fn for every process in /proc whose stat reads; it reports false when /proc
// cannot be listed.
func eachProc(fn func(procStatus)) bool {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if st, ok := readProcStat(e.Name()); ok {
			fn(st)
		}
	}
	return true
}
