package wsnats_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluice-ws/sluice/internal/wstest"
	"github.com/sluice-ws/sluice/wsnats"
	"github.com/sluice-ws/sluice/wsnats/internal/natstest"
	"github.com/sluice-ws/sluice/wsutil"
)

// A node subscribes to a room while it has members in it, and to nothing
// else: NATS holds one subscription per node and room served, and a
// node's last member leaving a room removes its subscription.
func TestSubscribePerRoom(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, 0)
	base := srv.NumSubscriptions() // the server's own
	a := newNode(t, "a", srv.ClientURL(), wsutil.Config{}, wsnats.Config{})
	b := newNode(t, "b", srv.ClientURL(), wsutil.Config{}, wsnats.Config{})
	subs := func(want uint32, what string) {
		t.Helper()
		flush(t, a, b)
		require.Equal(t, base+want, srv.NumSubscriptions(), what)
	}
	subs(0, "no member, no subscription")

	client := a.member(t, wsutil.Config{}) // joins room r on a
	subs(1, "a serves r")
	b.member(t, wsutil.Config{})
	b.member(t, wsutil.Config{})
	subs(2, "a and b serve r: one subscription each, whatever the members")

	c := a.hub.Members(room)[0]
	require.NoError(t, a.hub.Join(c, "other"))
	subs(3, "a serves other too")
	require.NoError(t, a.hub.Leave(c, "other"))
	subs(2, "a left other")

	require.NoError(t, client.Terminate())
	require.Eventually(t, func() bool { return len(a.hub.Members(room)) == 0 },
		wstest.Remaining(t), 10*time.Millisecond, "a's member left when its connection closed")
	subs(1, "only b serves r")
}
