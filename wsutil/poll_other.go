//go:build !linux

package wsutil

import (
	"errors"
	"net"
	"time"

	"github.com/sluice-ws/sluice/internal/bufpool"
	"github.com/sluice-ws/sluice/ws"
)

// pollLoop is the event loop, which needs epoll: elsewhere there is none,
// and Serve returns ErrPollUnsupported before any connection exists.
type pollLoop struct {
	rbuf    *bufpool.Buf
	iov     [][]byte
	scratch []byte
	timers  pollTimers
	now     time.Duration
	s       *PollServer
}

func newPollLoop(*PollServer) (*pollLoop, error)   { return nil, ErrPollUnsupported }
func (l *pollLoop) run()                           {}
func (l *pollLoop) release()                       {}
func (l *pollLoop) schedule(*PollConn)             {}
func (l *pollLoop) forget(*PollConn)               {}
func (l *pollLoop) closeAll(ws.StatusCode, string) {}
func (l *pollLoop) stop()                          {}
func (l *pollLoop) later(*PollConn)                {}
func (s *PollServer) accept(net.Listener) error    { return ErrPollUnsupported }
func sysRead(int, []byte) (int, error)             { return 0, ErrPollUnsupported }
func sysWritev(int, [][]byte) (int, error)         { return 0, ErrPollUnsupported }
func sysShutdownWrite(int)                         {}

var errWouldBlock = errors.New("wsutil: would block")
