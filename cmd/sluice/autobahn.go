package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gobwas/httphead"

	"github.com/sluice-ws/sluice/ws"
	"github.com/sluice-ws/sluice/wsflate"
	"github.com/sluice-ws/sluice/wsutil"
)

const autobahnHelp = `Run the sluice client (ws.Dialer and wsutil.Conn) as the testee of an
Autobahn Testsuite fuzzing server (wstest -m fuzzingserver): ask it for the
number of cases (/getCaseCount), run each one (/runCase), echoing every
message as it came, with permessage-deflate offered, print the verdict the
server gives each case (/getCaseInfo, /getCaseStatus), then have it write
its reports (/updateReports). URL is the server's ws:// or wss:// address,
such as ws://127.0.0.1:9001.

autobahn-client exits with status 0 when every case ran and none FAILED,
1 otherwise. The server's HTML report (reports/clients/index.html under its
working directory) has the details; docs/conformance.md shows a full run.`

// Defaults of autobahn-client.
const (
	defaultAutobahnAgent      = "sluice"
	defaultAutobahnMaxMessage = 64 << 20 // case 9.x sends 16 MiB messages
)

// autobahnConfig is what the flags of autobahn-client set.
type autobahnConfig struct {
	base       string // the server's URL without a trailing slash
	agent      string
	compress   bool
	maxMessage byteSize
	timeout    time.Duration // dial and handshake
	cases      []int         // only these case numbers; all when empty
}

// parseAutobahnFlags parses the command line of autobahn-client.
func parseAutobahnFlags(args []string, stderr io.Writer) (autobahnConfig, error) {
	cfg := autobahnConfig{maxMessage: defaultAutobahnMaxMessage}
	fs := newFlagSet("autobahn-client", "[flags] URL", autobahnHelp, stderr)
	fs.StringVar(&cfg.agent, "agent", defaultAutobahnAgent, "`name` of the testee in the server's reports")
	fs.BoolVar(&cfg.compress, "compress", true, "offer permessage-deflate on every case; -compress=false offers nothing")
	fs.Var(&cfg.maxMessage, "max-message", "largest message `size` accepted from the server")
	fs.DurationVar(&cfg.timeout, "timeout", defaultDialTimeout, "bound on connecting and the handshake of each connection; 0 means none")
	only := fs.String("cases", "", "run only these case `numbers`, comma-separated, with ranges: 1-16,65")
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	switch {
	case fs.NArg() != 1:
		return cfg, usageError(fs, "autobahn-client takes exactly one URL")
	case cfg.agent == "" || strings.ContainsAny(cfg.agent, "&#? /"):
		return cfg, usageError(fs, "-agent must be a plain name")
	case cfg.maxMessage <= 0:
		return cfg, usageError(fs, "-max-message must be positive")
	case cfg.timeout < 0:
		return cfg, usageError(fs, "-timeout must not be negative")
	}
	u, err := url.Parse(fs.Arg(0))
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return cfg, usageError(fs, "want the fuzzing server's ws:// URL, got %q", fs.Arg(0))
	}
	cfg.base = strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/")
	if *only != "" {
		if cfg.cases, err = parseCaseList(*only); err != nil {
			return cfg, usageError(fs, "invalid -cases: %v", err)
		}
	}
	return cfg, nil
}

// parseCaseList parses "1-16,65" into 1, 2, …, 16, 65.
func parseCaseList(s string) ([]int, error) {
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 1 {
			return nil, fmt.Errorf("%q is not a case number", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a range of case numbers", part)
			}
		}
		for n := a; n <= b; n++ {
			out = append(out, n)
		}
	}
	return out, nil
}

// runAutobahnClient is the autobahn-client subcommand.
func runAutobahnClient(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	cfg, err := parseAutobahnFlags(args, stderr)
	if err != nil {
		return err
	}
	a := &autobahn{cfg: cfg}
	text, err := a.fetch(ctx, "/getCaseCount", nil)
	if err != nil {
		return fmt.Errorf("autobahn-client: getCaseCount: %w", err)
	}
	count, err := strconv.Atoi(strings.TrimSpace(text))
	if err != nil || count < 0 {
		return fmt.Errorf("autobahn-client: getCaseCount answered %q, not a number: %w", text, errAutobahn)
	}
	cases := cfg.cases
	if len(cases) == 0 {
		for n := 1; n <= count; n++ {
			cases = append(cases, n)
		}
	}
	fmt.Fprintf(stdout, "sluice autobahn-client %s: %d cases, agent %q, permessage-deflate %s\n",
		cfg.base, len(cases), cfg.agent, map[bool]string{true: "offered", false: "not offered"}[cfg.compress])

	verdicts := make(map[string]int)
	var failed, broken []string
	for _, n := range cases {
		if n > count {
			return fmt.Errorf("autobahn-client: case %d: the server has %d cases: %w", n, count, errAutobahn)
		}
		id, behavior, err := a.runCase(ctx, n)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			// The run goes on: the server records the case anyway.
			fmt.Fprintf(stdout, "%-4d %-9s client error: %v\n", n, id, err)
			broken = append(broken, id)
		}
		verdicts[behavior]++
		fmt.Fprintf(stdout, "%-4d %-9s %s\n", n, id, behavior)
		if behavior == "FAILED" {
			failed = append(failed, id)
		}
	}
	if _, err := a.fetch(ctx, "/updateReports", url.Values{"agent": {cfg.agent}}); err != nil {
		return fmt.Errorf("autobahn-client: updateReports: %w", err)
	}
	var tally []string
	for _, b := range []string{"OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"} {
		if verdicts[b] > 0 {
			tally = append(tally, fmt.Sprintf("%s %d", b, verdicts[b]))
			delete(verdicts, b)
		}
	}
	for b, n := range verdicts {
		tally = append(tally, fmt.Sprintf("%s %d", b, n))
	}
	fmt.Fprintf(stdout, "reports updated for agent %q: %s\n", cfg.agent, strings.Join(tally, ", "))
	if len(failed) > 0 || len(broken) > 0 {
		return fmt.Errorf("autobahn-client: failed: %s; client errors: %s: %w",
			orNone(failed), orNone(broken), errAutobahn)
	}
	return nil
}

func orNone(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

// autobahn talks to one fuzzing server.
type autobahn struct {
	cfg autobahnConfig
}

// dial opens a client Conn to path with query q.
func (a *autobahn) dial(ctx context.Context, path string, q url.Values, deflate *wsflate.Extension) (*wsutil.Conn, error) {
	d := ws.Dialer{Timeout: a.cfg.timeout}
	cfg := wsutil.Config{MaxMessageSize: int64(a.cfg.maxMessage)}
	if deflate != nil {
		d.Extensions = []httphead.Option{deflate.Offer()}
		d.OnExtensions = deflate.CheckResponse
		cfg.Extension = deflate
	}
	u := a.cfg.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	nc, hs, err := d.Dial(ctx, u)
	if err != nil {
		return nil, err
	}
	c, err := wsutil.NewConn(nc, ws.ClientSide, hs, cfg)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	return c, nil
}

// fetch connects to path, returns the first text message the server
// sends (empty when it sends none) and waits for the server to close.
func (a *autobahn) fetch(ctx context.Context, path string, q url.Values) (string, error) {
	c, err := a.dial(ctx, path, q, nil)
	if err != nil {
		return "", err
	}
	defer c.Terminate()
	stop := context.AfterFunc(ctx, func() { _ = c.Terminate() })
	defer stop()
	var text string
	got := false
	for m := range c.Inbound() {
		if !got && m.OpCode == ws.OpText {
			text, got = string(m.Payload), true
		}
	}
	if ce := (ws.CloseError{}); !errors.As(c.Err(), &ce) {
		return text, c.Err()
	}
	return text, nil
}

// runCase runs case n, echoing every message, and returns the case's id
// and the server's verdict.
func (a *autobahn) runCase(ctx context.Context, n int) (id, behavior string, err error) {
	num := strconv.Itoa(n)
	id = "#" + num
	if info, ierr := a.fetch(ctx, "/getCaseInfo", url.Values{"case": {num}}); ierr == nil {
		var v struct {
			ID string `json:"id"`
		}
		if json.Unmarshal([]byte(info), &v) == nil && v.ID != "" {
			id = v.ID
		}
	}
	var deflate *wsflate.Extension
	if a.cfg.compress {
		// client_max_window_bits without a value: the server may bound
		// our window to anything (RFC 7692 §7.1.2.2), and case 13 does.
		deflate = &wsflate.Extension{ClientMaxWindowBits: wsflate.WindowBitsNoValue}
	}
	c, err := a.dial(ctx, "/runCase", url.Values{"case": {num}, "agent": {a.cfg.agent}}, deflate)
	if err == nil {
		stop := context.AfterFunc(ctx, func() { _ = c.Terminate() })
		echoMessages(c)
		<-c.Done()
		stop()
	}
	status, serr := a.fetch(ctx, "/getCaseStatus", url.Values{"case": {num}, "agent": {a.cfg.agent}})
	if serr != nil {
		return id, "UNKNOWN", errors.Join(err, fmt.Errorf("getCaseStatus: %w", serr))
	}
	var v struct {
		Behavior string `json:"behavior"`
	}
	if jerr := json.Unmarshal([]byte(status), &v); jerr != nil || v.Behavior == "" {
		return id, "UNKNOWN", errors.Join(err, fmt.Errorf("getCaseStatus answered %q", status))
	}
	return id, v.Behavior, err
}

// echoMessages sends every message of c back as it came until the
// connection ends, then lets the Conn answer the server's close.
func echoMessages(c *wsutil.Conn) {
	out := c.Outbound()
	for m := range c.Inbound() {
		select {
		case out <- m:
		case <-c.Done():
			return
		}
	}
	close(out)
}
