package conform

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/sluice-ws/sluice/ws"
)

// Target is a server under test: the host and request-target of its echo
// endpoint.
type Target struct {
	Host string // host:port
	Path string // request-target, such as /echo
	TLS  bool   // wss://
	// Insecure skips the verification of the server's TLS certificate.
	Insecure bool
}

// ParseTarget parses a ws:// or wss:// URL; the port defaults to 80 or
// 443.
func ParseTarget(rawURL string) (Target, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Target{}, err
	}
	t := Target{Path: u.RequestURI()}
	switch u.Scheme {
	case "ws":
	case "wss":
		t.TLS = true
	default:
		return Target{}, fmt.Errorf("want a ws:// or wss:// URL, got %q", rawURL)
	}
	if u.Host == "" {
		return Target{}, fmt.Errorf("no host in %q", rawURL)
	}
	t.Host = u.Host
	if u.Port() == "" {
		port := "80"
		if t.TLS {
			port = "443"
		}
		t.Host = net.JoinHostPort(u.Hostname(), port)
	}
	return t, nil
}

func (t Target) String() string {
	scheme := "ws://"
	if t.TLS {
		scheme = "wss://"
	}
	return scheme + t.Host + t.Path
}

// hostname is Host without the port, for TLS.
func (t Target) hostname() string {
	h, _, err := net.SplitHostPort(t.Host)
	if err != nil {
		return t.Host
	}
	return h
}

// Bounds bound the client's waits.
type Bounds struct {
	// IO bounds an exchange that should succeed: a connection and its
	// handshake, an echo, a pong, the close frame that answers a protocol
	// error or data that never comes. A passing case takes milliseconds;
	// only a server that hangs or waits for what will not come reaches it.
	IO time.Duration
	// PerMiB is added to IO for every MiB a step sends or expects.
	PerMiB time.Duration
	// Close is how soon the server must close TCP after its close frame
	// (RFC 6455 §7.1.1: after a closing handshake the server closes
	// first; §7.1.7: failing the connection closes it). A server that
	// waits for the client's close, which never comes, reaches it.
	Close time.Duration
}

// DefaultBounds are the bounds of `sluice conform`.
var DefaultBounds = Bounds{IO: 10 * time.Second, PerMiB: time.Second, Close: 2 * time.Second}

// io is the bound of an exchange of n bytes.
func (b Bounds) io(n int) time.Duration { return b.IO + time.Duration(n>>20)*b.PerMiB }

// Section is a group of cases about one part of the RFCs.
type Section struct {
	Name  string // framing, ping-pong, …: the first part of the case ids
	Title string // what the section checks, with the RFC sections
	Cases []Case
	// Limited marks the cases that need a server whose message limit is
	// LimitedMaxMessage bytes (larger messages are refused with 1009).
	Limited bool
}

// Case is one conversation with the server over a new connection.
type Case struct {
	ID    string // section/name, unique
	steps []step
	// handshake, when set, replaces the valid opening handshake: the case
	// checks the server's answer to a malformed one.
	handshake *handshakeCase
	// deflate negotiates permessage-deflate first (RFC 7692); a server that
	// declines skips the case.
	deflate bool
}

// LimitedMaxMessage is the message limit the Limited cases expect.
const LimitedMaxMessage = 1 << 10

// Sections returns every section of the suite, in report order.
func Sections() []Section {
	sections := []Section{
		{Name: "framing", Title: "frame lengths, masking keys, split writes, pipelined messages (RFC 6455 §5.2)", Cases: cases(framingCases())},
		{Name: "ping-pong", Title: "pings answered, pongs ignored, control frame limits (§5.5)", Cases: cases(pingCases())},
		{Name: "reserved-bits", Title: "RSV bits without an extension (§5.2)", Cases: cases(rsvCases())},
		{Name: "reserved-opcodes", Title: "opcodes 3-7 and 0xB-0xF (§5.2)", Cases: cases(opcodeCases())},
		{Name: "masking", Title: "unmasked client frames (§5.1)", Cases: cases(maskingCases())},
		{Name: "fragmentation", Title: "fragmented messages and control frames between fragments (§5.4)", Cases: cases(fragmentationCases())},
		{Name: "utf8", Title: "UTF-8 of text messages, checked as it arrives (§5.6, §8.1)", Cases: cases(utf8Cases())},
		{Name: "close", Title: "the closing handshake: codes, reasons, what follows (§5.5.1, §7)", Cases: cases(closeCases())},
		{Name: "limits", Title: "message size limit of 1 KiB: 1009 as early as possible (§7.4.1)", Cases: cases(limitCases()), Limited: true},
		{Name: "handshake", Title: "the opening handshake (§4.1, §4.2)", Cases: handshakeSection()},
		{Name: "deflate", Title: "permessage-deflate negotiated and used (RFC 7692)", Cases: deflateSection()},
	}
	for i := range sections {
		for j := range sections[i].Cases {
			sections[i].Cases[j].ID = sections[i].Name + "/" + sections[i].Cases[j].ID
		}
	}
	return sections
}

func cases(cs []conformanceCase) []Case {
	out := make([]Case, len(cs))
	for i, c := range cs {
		out[i] = Case{ID: c.name, steps: c.steps}
	}
	return out
}

func handshakeSection() []Case {
	var out []Case
	for _, h := range handshakeCases() {
		out = append(out, Case{ID: h.name, handshake: &h})
	}
	return out
}

// Result is the outcome of one case.
type Result struct {
	ID string
	// Err says why the case failed; nil when it passed or was skipped.
	Err error
	// Skipped says why the case did not run; empty when it did.
	Skipped string
	// Local is the client's address (host:port): a server's log names the
	// connection by it.
	Local string
	// NonStrict, when not empty, says how a passing case passed only
	// leniently: the server closed before echoing the messages that came
	// before the close or the fault, which RFC 6455 allows and the
	// Autobahn Testsuite rates NON-STRICT. With Options.Strict it fails
	// the case instead.
	NonStrict string
	// Log holds notes a passing case may still show (server pings the
	// client ignored, the body of a refused handshake).
	Log     []string
	Elapsed time.Duration
}

// Failed reports whether the case ran and failed.
func (r Result) Failed() bool { return r.Err != nil }

// Run runs the case against tgt over a new connection, within b and until
// ctx is done.
func (cs Case) Run(ctx context.Context, tgt Target, b Bounds) (res Result) {
	start := time.Now()
	res.ID = cs.ID
	c := &client{tgt: tgt, bounds: b, logf: func(format string, args ...any) {
		res.Log = append(res.Log, fmt.Sprintf(format, args...))
	}}
	stage := "the opening handshake"
	defer func() {
		c.close()
		res.Local = c.local
		res.Elapsed = time.Since(start)
		switch r := recover().(type) {
		case nil:
		case failure:
			res.Err = fmt.Errorf("%s: %w", stage, r.err)
			if ctx.Err() != nil {
				res.Err = fmt.Errorf("%w (stopped: %w)", res.Err, context.Cause(ctx))
			}
		case skipped:
			res.Skipped = r.reason
		default:
			panic(r)
		}
	}()
	if cs.handshake != nil {
		c.dialTCP(ctx)
		defer context.AfterFunc(ctx, c.abort)()
		cs.handshake.run(c)
		return res
	}
	if cs.deflate {
		c.negotiateDeflate(ctx)
	} else {
		c.connect(ctx)
	}
	defer context.AfterFunc(ctx, c.abort)()
	for i, s := range cs.steps {
		stage = fmt.Sprintf("step %d of %d (%v)", i+1, len(cs.steps), s)
		if e, ok := s.(echoStep); ok {
			if c.early != nil {
				continue // the close came before this echo: noted once
			}
			// An echo due before a close the case expects may be
			// missing: the server answered the close (or failed the
			// connection) first.
			c.closeNext = nextClose(cs.steps[i+1:])
			c.expectEcho(e.op, e.payload)
			c.closeNext = nil
			if c.early != nil {
				res.NonStrict = fmt.Sprintf("%s: the server sent its close frame without it (RFC 6455 allows that; Autobahn rates it NON-STRICT)", stage)
			}
			continue
		}
		s.run(c)
	}
	stage = "the final closing handshake"
	c.finish()
	return res
}

// nextClose returns the close the steps expect before they send anything
// more, or nil.
func nextClose(steps []step) *closeWant {
	for _, s := range steps {
		switch s := s.(type) {
		case closeStep:
			w := closeWant(s)
			return &w
		case echoStep, pongStep:
		default:
			return nil
		}
	}
	return nil
}

// abort ends every pending read and write of c: ctx is done.
func (c *client) abort() { _ = c.nc.SetDeadline(time.Unix(1, 0)) }

// run checks the server's answer to h's request (RFC 6455 §4.2.1, §4.4).
func (h *handshakeCase) run(c *client) {
	key := ws.GenerateKey()
	fields := validRequest(c.tgt, key)
	if h.edit != nil {
		fields = h.edit(fields)
	}
	res := c.handshake(h.method, fields)
	if res.StatusCode != h.status {
		c.fail("status %s, want %d %s", res.Status, h.status, http.StatusText(h.status))
	}
	if h.header[0] != "" && res.Header.Get(h.header[0]) != h.header[1] {
		c.fail("%s is %q, want %q", h.header[0], res.Header.Get(h.header[0]), h.header[1])
	}
	if res.StatusCode == http.StatusSwitchingProtocols {
		c.checkUpgrade(res, key)
		c.finish()
	}
}

// Options configure RunAll.
type Options struct {
	Target Target
	// Limited is the echo endpoint of a server whose message limit is
	// LimitedMaxMessage; nil skips the Limited sections.
	Limited *Target
	Bounds  Bounds
	// Parallel is how many cases run at once; 0 means 8. The cases wait
	// on the network far more than on the CPU.
	Parallel int
	// Match selects the cases by id; nil runs them all.
	Match func(id string) bool
	// Progress, when set, is called after each case, from one goroutine
	// at a time.
	Progress func(Result)
	// Strict fails the cases that pass only leniently (Result.NonStrict).
	Strict bool
}

// ErrNoLimited is the reason the Limited cases are skipped without
// Options.Limited.
var ErrNoLimited = errors.New("needs a server whose message limit is 1 KiB")

// RunAll runs the cases of every section that opts.Match selects, and
// returns their results in the order of Sections.
func RunAll(ctx context.Context, opts Options) []Result {
	type job struct {
		c   Case
		tgt *Target
		i   int
	}
	var jobs []job
	var results []Result
	for _, s := range Sections() {
		tgt := &opts.Target
		if s.Limited {
			tgt = opts.Limited
		}
		for _, c := range s.Cases {
			if opts.Match != nil && !opts.Match(c.ID) {
				continue
			}
			jobs = append(jobs, job{c, tgt, len(results)})
			results = append(results, Result{ID: c.ID})
		}
	}
	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = 8
	}
	var mu sync.Mutex // serialises Progress
	queue := make(chan job)
	var wg sync.WaitGroup
	for range min(parallel, max(len(jobs), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queue {
				var r Result
				switch {
				case j.tgt == nil:
					r = Result{ID: j.c.ID, Skipped: ErrNoLimited.Error()}
				case ctx.Err() != nil:
					r = Result{ID: j.c.ID, Skipped: "stopped: " + context.Cause(ctx).Error()}
				default:
					r = j.c.Run(ctx, *j.tgt, opts.Bounds)
					if opts.Strict && r.NonStrict != "" && r.Err == nil {
						r.Err = errors.New(r.NonStrict)
					}
				}
				results[j.i] = r
				if opts.Progress != nil {
					mu.Lock()
					opts.Progress(r)
					mu.Unlock()
				}
			}
		}()
	}
	for _, j := range jobs {
		queue <- j
	}
	close(queue)
	wg.Wait()
	return results
}
