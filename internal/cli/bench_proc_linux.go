//go:build linux

package cli

import (
	"fmt"
	"os"
	"strconv"
)

// readProc samples the CPU time and RSS of process pid from /proc.
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
	cpu, err := parseProcStat(stat)
	if err != nil {
		return procSample{}, err
	}
	rss, err := parseProcStatus(status)
	if err != nil {
		return procSample{}, err
	}
	return procSample{cpu: cpu, rss: rss}, nil
}
