// Package server holds what every echo server of the comparison shares:
// the command line (-addr, -compress) and serving until SIGINT or SIGTERM.
// Each server under servers/ is a main package of its own, so that its
// binary, its RSS and its goroutines hold one library only.
package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Flags is the command line every server takes.
type Flags struct {
	// Addr is the address to listen on.
	Addr string
	// Compress offers permessage-deflate.
	Compress bool
}

// Parse parses the command line of server name. A server whose library
// has no permessage-deflate passes canCompress false, and -compress then
// ends it with exit status 3, which the driver reads as "not supported".
func Parse(name string, canCompress bool) Flags {
	var f Flags
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	fs.StringVar(&f.Addr, "addr", "127.0.0.1:9001", "address to listen on")
	fs.BoolVar(&f.Compress, "compress", false, "offer permessage-deflate")
	_ = fs.Parse(os.Args[1:])
	if f.Compress && !canCompress {
		fmt.Fprintf(os.Stderr, "%s: permessage-deflate is not supported by this server\n", name)
		os.Exit(3)
	}
	return f
}

// Listen listens on f.Addr and says so on stderr.
func Listen(name string, f Flags) net.Listener {
	ln, err := net.Listen("tcp", f.Addr)
	if err != nil {
		Fatal(name, err)
	}
	fmt.Fprintf(os.Stderr, "%s: listening on %s (compress %v)\n", name, ln.Addr(), f.Compress)
	return ln
}

// ServeHTTP serves h on every path with net/http, with the timeouts a
// production server sets on the HTTP side, until SIGINT or SIGTERM.
// Hijacked connections are the handler's: the process exits with them.
func ServeHTTP(name string, f Flags, h http.Handler) {
	ln := Listen(name, f)
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	go func() {
		WaitSignal()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		Fatal(name, err)
	}
}

// WaitSignal returns on SIGINT or SIGTERM.
func WaitSignal() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
}

// Fatal reports err and exits with status 1.
func Fatal(name string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	os.Exit(1)
}

// MaxMessage is the message limit set on libraries whose default is lower
// than a comparison needs (coder's 32 KiB): sluice's and gws's default.
const MaxMessage = 16 << 20
