package wstest

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPipe(t *testing.T) {
	a, b := Pipe()
	// Writes do not wait for a reader.
	_, err := a.Write([]byte("hello"))
	require.NoError(t, err)
	_, err = a.Write([]byte(" world"))
	require.NoError(t, err)
	buf := make([]byte, 64)
	n, err := b.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "hello world", string(buf[:n]))

	// A read deadline interrupts a blocked read.
	require.NoError(t, b.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
	_, err = b.Read(buf)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout())
	require.NoError(t, b.SetReadDeadline(time.Time{}))

	// A blocked read wakes up when data arrives.
	done := make(chan string)
	go func() {
		n, _ := b.Read(buf)
		done <- string(buf[:n])
	}()
	_, err = a.Write([]byte("late"))
	require.NoError(t, err)
	assert.Equal(t, "late", <-done)

	// Closing gives the peer what was sent, then EOF; own reads fail.
	_, err = a.Write([]byte("last"))
	require.NoError(t, err)
	require.NoError(t, a.Close())
	n, err = b.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "last", string(buf[:n]))
	_, err = b.Read(buf)
	require.ErrorIs(t, err, io.EOF)
	_, err = a.Read(buf)
	require.ErrorIs(t, err, net.ErrClosed)
	_, err = a.Write([]byte("x"))
	require.ErrorIs(t, err, net.ErrClosed)
	require.ErrorIs(t, a.Close(), net.ErrClosed)
	_, err = b.Write([]byte("to closed"))
	require.ErrorIs(t, err, io.ErrClosedPipe)
}
