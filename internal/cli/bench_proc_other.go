//go:build !linux

package cli

// readProc would sample the CPU time and RSS of process pid; it needs
// Linux's /proc and fails with errProcUnavailable elsewhere.
func readProc(pid int) (procSample, error) {
	return procSample{}, errProcUnavailable
}
