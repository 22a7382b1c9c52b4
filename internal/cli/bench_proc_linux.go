//go:build linux

package cli

import (
	"fmt"
	"os"
	"strconv"
)

// readProc samples the CPU time (user and system) and RSS of process pid
// from /proc.
func readProc(pid int) (procSample, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return procSample{}, fmt.Errorf("server process %d: %w", pid, err)
	}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return procSample{}, fmt.Errorf("server process %d: %w", pid, err)
	}
	user, system, err := parseProcStat(stat)
	if err != nil {
		return procSample{}, err
	}
	rss, err := parseProcStatus(status)
	if err != nil {
		return procSample{}, err
	}
	return procSample{user: user, system: system, rss: rss}, nil
}
