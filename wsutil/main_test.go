package wsutil

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: every
// goroutine a Conn starts must exit when it ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
