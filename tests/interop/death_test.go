package interop

import (
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// envDeathHelper makes TestPeerDeathHelper run: it is a test that must
// fail, run by TestPeerDeathReportedOnce in a child process.
const envDeathHelper = "SLUICE_INTEROP_DEATH_HELPER"

// TestPeerDeathReportedOnce checks what a peer that dies mid-test looks
// like: one failure, on the test that started it, saying how it died
// (the signal) with the end of its stderr, and the cases that still
// needed it skipped rather than failed.
func TestPeerDeathReportedOnce(t *testing.T) {
	t.Parallel()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run", "^TestPeerDeathHelper$", "-test.v")
	cmd.Env = append(os.Environ(), envDeathHelper+"=1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "the helper test must fail; output:\n%s", out)
	report := string(out)
	assert.Equal(t, 1, strings.Count(report, "--- FAIL"), "one failure; output:\n%s", report)
	assert.Contains(t, report, "--- FAIL: TestPeerDeathHelper ")
	assert.Regexp(t, regexp.MustCompile(`the doomed peer process \(pid \d+: sh -c .*\) was killed by signal 9 \(killed\)`), report)
	assert.Contains(t, report, "last words", "the end of its stderr")
	assert.Equal(t, 5, strings.Count(report, "--- SKIP: TestPeerDeathHelper/case-"), "every case skipped")
	assert.Contains(t, report, "skipped: the doomed peer process died (its test reports why once)")
}

// TestPeerDeathHelper starts a peer that dies, and five cases that fail
// after it did.
func TestPeerDeathHelper(t *testing.T) {
	if os.Getenv(envDeathHelper) == "" {
		t.Skip("run by TestPeerDeathReportedOnce")
	}
	p := startProcess(t, "doomed", false, "sh", "-c", "echo 'last words' >&2; kill -9 $$")
	<-p.exited
	ct := &caseT{T: t, proc: p}
	for _, name := range []string{"case-1", "case-2", "case-3", "case-4", "case-5"} {
		ct.Run(name, func(t *caseT) {
			require.NoError(t, errors.New("the peer's connection ended"))
		})
	}
}
