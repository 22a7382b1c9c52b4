package wstest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type fixedDeadline struct {
	d  time.Time
	ok bool
}

func (f fixedDeadline) Deadline() (time.Time, bool) { return f.d, f.ok }

func TestDeadline(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		margin  time.Duration
	}{
		{"default 10m", 10 * time.Minute, time.Minute},
		{"15m caps the margin at 1m", 15 * time.Minute, time.Minute},
		{"2m keeps a tenth", 2 * time.Minute, 12 * time.Second},
		{"10s keeps at least 5s", 10 * time.Second, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			end := started.Add(tc.timeout)
			assert.Equal(t, end.Add(-tc.margin), Deadline(fixedDeadline{end, true}))
		})
	}
	t.Run("no deadline", func(t *testing.T) {
		t.Parallel()
		d := Deadline(fixedDeadline{})
		assert.WithinDuration(t, time.Now().Add(noDeadline), d, time.Minute)
	})
	t.Run("this test", func(t *testing.T) {
		t.Parallel()
		d, ok := t.Deadline()
		if !ok {
			t.Skip("run without -timeout")
		}
		assert.True(t, Deadline(t).Before(d))
		assert.WithinDuration(t, RunDeadline(), Deadline(t), Slow(5*time.Second))
	})
}

func TestContextCause(t *testing.T) {
	t.Parallel()
	ctx := contextUntil(context.Background(), time.Now(), t.Cleanup, "the answer")
	<-ctx.Done()
	err := Err(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var de *DeadlineError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "the answer", de.What)
	assert.Contains(t, err.Error(), "still waiting for the answer at the run's deadline")
	assert.Contains(t, Expired(t, "a pong").Error(), "still waiting for a pong")

	live, cancel := context.WithCancel(context.Background())
	assert.NoError(t, Err(live))
	cancel()
	assert.Equal(t, context.Canceled, Err(live))
}

func TestSlowdown(t *testing.T) {
	// Not parallel: it sets the environment.
	for _, tc := range []struct {
		env  string
		want float64 // 0: the load's, at least 1
		bad  bool
	}{
		{env: "", want: 0},
		{env: "auto", want: 0},
		{env: "4", want: 4},
		{env: "1.5", want: 1.5},
		{env: "0.5", bad: true},
		{env: "fast", bad: true},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv(EnvSlowdown, tc.env)
			f, err := parseSlowdown()
			if tc.bad {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, f)
		})
	}
	assert.GreaterOrEqual(t, Slowdown(), 1.0)
	assert.GreaterOrEqual(t, Slow(time.Second), time.Second)
	assert.False(t, errors.Is(Expired(t, "x"), context.Canceled))
}
