package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"time"
)

// procSample is what sluice bench reads about the server process at one
// moment: the CPU time it has used so far, in user space and in the
// kernel, and its resident set size.
type procSample struct {
	user   time.Duration // utime
	system time.Duration // stime
	rss    int64         // bytes
}

// cpu is the CPU time the process has used, user and system.
func (s procSample) cpu() time.Duration { return s.user + s.system }

// clockTicks is Linux's USER_HZ, the unit of the times in /proc/PID/stat.
// The kernel fixes it at 100 on every architecture Go supports, whatever
// its internal HZ, since it is part of the user-space ABI.
const clockTicks = 100

// parseProcStat returns utime (user) and stime (system) from the contents
// of /proc/PID/stat (proc(5)). The second field, the command name, may
// hold spaces and parentheses, so the fields are counted from the last ')'.
func parseProcStat(b []byte) (user, system time.Duration, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("unexpected /proc stat format")
	}
	// After ')': state (field 3) is fields[0], utime (14) fields[11],
	// stime (15) fields[12].
	fields := bytes.Fields(b[i+1:])
	if len(fields) < 13 {
		return 0, 0, fmt.Errorf("unexpected /proc stat format: %d fields", len(fields)+2)
	}
	utime, err1 := strconv.ParseInt(string(fields[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(fields[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("unexpected /proc stat format: utime %q, stime %q", fields[11], fields[12])
	}
	ticks := func(n int64) time.Duration { return time.Duration(n) * time.Second / clockTicks }
	return ticks(utime), ticks(stime), nil
}

// parseProcStatus returns VmRSS, in bytes, from the contents of
// /proc/PID/status.
func parseProcStatus(b []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest) // "12345", "kB"
		if len(f) != 2 || string(f[1]) != "kB" {
			break
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			break
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no VmRSS line in /proc status")
}
