package wsnats_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: the
// NATS connections and the embedded servers included.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
