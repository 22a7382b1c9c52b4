package wstest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Time bounds in tests that must hold on a slow, loaded machine.
//
// A wait that ends early only when something is wrong (a peer that hangs,
// an echo that never comes) is bounded by the run's deadline, not by a
// constant: Deadline is the test binary's deadline (go test -timeout, 10
// minutes unless set) less a margin to report the failure and clean up. A
// slow machine cannot reach it while the code is right; a hang does, and
// then Context's cause or Expired's message says what was awaited.
//
// A duration that a correct program must beat, such as "the server closes
// TCP at once after its close frame" against a wrong program that waits 5 s
// for something, goes through Slow, which multiplies it by Slowdown. The
// longer waits of a wrong program should make such bounds rare.

// EnvSlowdown names the environment variable that multiplies the bounds
// of Slow: a number, at least 1, such as 4. When it is unset (or "auto"),
// the factor follows the machine's load: the 1-minute load average per
// CPU, at least 1 (Linux; 1 elsewhere).
const EnvSlowdown = "SLUICE_TEST_SLOWDOWN"

// noDeadline bounds the waits of a run without a deadline (-timeout 0).
const noDeadline = 10 * time.Minute

// started approximates the start of the test binary, from which
// go test's -timeout counts.
var started = time.Now()

// deadliner is what *testing.T and *testing.F offer.
type deadliner interface {
	Deadline() (time.Time, bool)
}

// Deadline returns when a wait that only a hang can exhaust should give up:
// t's deadline (go test -timeout) less a margin, a tenth of the timeout
// between 5 s and 1 min, for the report and the cleanup. Without a
// deadline (-timeout 0), it is 10 minutes from now.
func Deadline(t deadliner) time.Time {
	d, ok := t.Deadline()
	if !ok {
		return time.Now().Add(noDeadline)
	}
	return d.Add(-margin(d.Sub(started)))
}

// RunDeadline is Deadline for code outside a test, such as TestMain after
// flag.Parse: it reads -test.timeout itself.
func RunDeadline() time.Time {
	f := flag.Lookup("test.timeout")
	if f == nil {
		return time.Now().Add(noDeadline)
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return time.Now().Add(noDeadline)
	}
	timeout, _ := g.Get().(time.Duration)
	if timeout <= 0 {
		return time.Now().Add(noDeadline)
	}
	return started.Add(timeout - margin(timeout))
}

func margin(timeout time.Duration) time.Duration {
	return min(max(timeout/10, 5*time.Second), time.Minute)
}

// Remaining returns the time left until Deadline(t), at least a second.
func Remaining(t deadliner) time.Duration {
	return max(time.Until(Deadline(t)), time.Second)
}

// Context returns a context that ends when t ends or at Deadline(t).
// context.Cause of the latter names what and the bound, for the failure
// message: use Err(ctx) to get it.
func Context(t *testing.T, what string) context.Context {
	t.Helper()
	return contextUntil(t.Context(), Deadline(t), t.Cleanup, what)
}

// RunContext is Context for code outside a test, bounded by RunDeadline;
// cancel releases it.
func RunContext(what string) (ctx context.Context, cancel context.CancelFunc) {
	d := RunDeadline()
	return context.WithDeadlineCause(context.Background(), d, expired(what, d))
}

func contextUntil(parent context.Context, d time.Time, cleanup func(func()), what string) context.Context {
	ctx, cancel := context.WithDeadlineCause(parent, d, expired(what, d))
	cleanup(cancel)
	return ctx
}

// Err returns ctx's cause when it has one that says more than ctx.Err,
// and ctx.Err otherwise; nil while ctx is live.
func Err(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	if c := context.Cause(ctx); c != nil {
		return c
	}
	return ctx.Err()
}

// Expired returns the error of a wait for what that reached Deadline(t).
func Expired(t deadliner, what string) error {
	return expired(what, Deadline(t))
}

// DeadlineError is the error of a wait that reached a run's deadline.
type DeadlineError struct {
	What     string    // what was awaited
	Deadline time.Time // when the wait gave up
}

func (e *DeadlineError) Error() string {
	timeout := "unset, so 10 min per wait"
	if f := flag.Lookup("test.timeout"); f != nil && f.Value.String() != "0s" {
		timeout = f.Value.String()
	}
	return fmt.Sprintf("still waiting for %s at the run's deadline (go test -timeout %s, less a margin to report): it hangs", e.What, timeout)
}

// Is makes the error match context.DeadlineExceeded.
func (e *DeadlineError) Is(target error) bool { return target == context.DeadlineExceeded }

func expired(what string, d time.Time) error { return &DeadlineError{What: what, Deadline: d} }

// After returns a channel that receives at Deadline(t): the bound of a
// select that waits for what a correct program does.
func After(t deadliner) <-chan time.Time {
	return time.After(time.Until(Deadline(t)))
}

// Slow returns d multiplied by Slowdown: the bound a correct program must
// beat, on this machine now.
func Slow(d time.Duration) time.Duration {
	return time.Duration(float64(d) * Slowdown())
}

var envSlowdown = sync.OnceValues(parseSlowdown)

// parseSlowdown reads EnvSlowdown: 0 when it leaves the factor to the load.
func parseSlowdown() (float64, error) {
	s := strings.TrimSpace(os.Getenv(EnvSlowdown))
	if s == "" || s == "auto" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 1 {
		return 0, fmt.Errorf("%s=%q: want a number, at least 1", EnvSlowdown, s)
	}
	return f, nil
}

// Slowdown returns the factor of Slow: EnvSlowdown when it is set, the
// load per CPU otherwise, and at least 1. It panics on a malformed
// EnvSlowdown, a mistake on the command line.
func Slowdown() float64 {
	f, err := envSlowdown()
	if err != nil {
		panic(err)
	}
	if f > 0 {
		return f
	}
	return max(1, loadPerCPU())
}

// loadPerCPU is the 1-minute load average per CPU, or 0 when unknown.
func loadPerCPU() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 0
	}
	load, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return 0
	}
	return load / float64(runtime.NumCPU())
}
