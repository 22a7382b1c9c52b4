package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sluice-ws/sluice/internal/conform"
)

const conformHelp = `Run sluice's RFC 6455 and RFC 7692 conformance suite against the echo
endpoint of any WebSocket server: a raw-socket client sends legal and illegal
frames, in one write, byte by byte or in odd chunks, and checks the exact
reaction the RFCs require (the echo, the pong, the close code, TCP closed by
the server). The report has one line per section and names every failing case
with what came instead; docs/conformance.md lists the cases.

The server must echo every text and binary message as it came. The limits
section needs a second endpoint whose message limit is 1 KiB (-limit-url);
without one it is skipped. The deflate section offers permessage-deflate and
is skipped when the server declines it.

A case where the server closed (or failed the connection) before echoing
the messages that came before passes as NON-STRICT, as the Autobahn
Testsuite rates it: RFC 6455 allows it. -strict fails such cases.

conform exits with status 0 when no case failed, 1 otherwise. URL is ws:// or
wss://.`

// conformConfig is what the flags of conform set.
type conformConfig struct {
	target   conform.Target
	limited  *conform.Target
	bounds   conform.Bounds
	parallel int
	run      *regexp.Regexp
	verbose  bool
	strict   bool
}

// parseConformFlags parses the command line of conform.
func parseConformFlags(args []string, stderr io.Writer) (conformConfig, error) {
	cfg := conformConfig{bounds: conform.DefaultBounds}
	fs := newFlagSet("conform", "[flags] URL", conformHelp, stderr)
	limitURL := fs.String("limit-url", "", "echo endpoint `URL` of a server whose message limit is 1 KiB, for the limits section")
	runExpr := fs.String("run", "", "run only the cases whose id (section/name) matches this `regexp`")
	fs.DurationVar(&cfg.bounds.IO, "timeout", conform.DefaultBounds.IO, "bound on each exchange that should succeed (plus -timeout-per-mib for large messages)")
	fs.DurationVar(&cfg.bounds.PerMiB, "timeout-per-mib", conform.DefaultBounds.PerMiB, "added to -timeout per MiB of a message")
	fs.DurationVar(&cfg.bounds.Close, "close-timeout", conform.DefaultBounds.Close, "how soon the server must close TCP after its close frame")
	fs.IntVar(&cfg.parallel, "parallel", 8, "cases run at once")
	insecure := fs.Bool("insecure", false, "do not verify the server's TLS certificate (wss)")
	fs.BoolVar(&cfg.verbose, "v", false, "print every case as it ends, passed ones included")
	fs.BoolVar(&cfg.strict, "strict", false, "fail the cases that pass only NON-STRICT (a close before the echoes due)")
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	if fs.NArg() != 1 {
		return cfg, usageError(fs, "conform takes exactly one URL")
	}
	var err error
	if cfg.target, err = conform.ParseTarget(fs.Arg(0)); err != nil {
		return cfg, usageError(fs, "invalid URL: %v", err)
	}
	cfg.target.Insecure = *insecure
	if *limitURL != "" {
		t, err := conform.ParseTarget(*limitURL)
		if err != nil {
			return cfg, usageError(fs, "invalid -limit-url: %v", err)
		}
		t.Insecure = *insecure
		cfg.limited = &t
	}
	if *runExpr != "" {
		if cfg.run, err = regexp.Compile(*runExpr); err != nil {
			return cfg, usageError(fs, "invalid -run: %v", err)
		}
	}
	switch {
	case cfg.bounds.IO <= 0 || cfg.bounds.Close <= 0 || cfg.bounds.PerMiB < 0:
		return cfg, usageError(fs, "-timeout and -close-timeout must be positive, -timeout-per-mib not negative")
	case cfg.parallel <= 0:
		return cfg, usageError(fs, "-parallel must be positive")
	}
	return cfg, nil
}

// runConform is the conform subcommand.
func runConform(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	cfg, err := parseConformFlags(args, stderr)
	if err != nil {
		return err
	}
	opts := conform.Options{Target: cfg.target, Limited: cfg.limited, Bounds: cfg.bounds, Parallel: cfg.parallel, Strict: cfg.strict}
	if cfg.run != nil {
		opts.Match = cfg.run.MatchString
	}
	if cfg.verbose {
		opts.Progress = func(r conform.Result) {
			switch {
			case r.Skipped != "":
				fmt.Fprintf(stderr, "skip %s: %s\n", r.ID, r.Skipped)
			case r.Failed():
				fmt.Fprintf(stderr, "FAIL %s (%v)\n", r.ID, r.Elapsed.Round(time.Millisecond))
			default:
				fmt.Fprintf(stderr, "ok   %s (%v)\n", r.ID, r.Elapsed.Round(time.Millisecond))
			}
		}
	}
	fmt.Fprintf(stdout, "sluice conform %s\n", cfg.target)
	results := conform.RunAll(ctx, opts)
	failed := report(stdout, results, cfg.limited == nil)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(failed) > 0 {
		return fmt.Errorf("conform: %d of %d cases failed: %s: %w", len(failed), len(results), strings.Join(failed, ", "), errConformance)
	}
	return nil
}

// report writes one line per section, with every failing case under its
// section, then a summary line; it returns the ids of the failed cases.
func report(w io.Writer, results []conform.Result, noLimited bool) (failed []string) {
	byID := make(map[string]conform.Result, len(results))
	for _, r := range results {
		byID[r.ID] = r
	}
	passed, skipped, lenient := 0, 0, 0
	for _, s := range conform.Sections() {
		var ok, skip int
		var fails, nonStrict []conform.Result
		var why []string
		for _, c := range s.Cases {
			r, ran := byID[c.ID]
			switch {
			case !ran:
				continue
			case r.Failed():
				fails = append(fails, r)
			case r.Skipped != "":
				skip++
				if reason := skipReason(r.Skipped, s.Limited && noLimited); !slices.Contains(why, reason) {
					why = append(why, reason)
				}
			default:
				ok++
				if r.NonStrict != "" {
					nonStrict = append(nonStrict, r)
				}
			}
		}
		if ok+skip+len(fails) == 0 {
			continue // -run selected none of it
		}
		var parts []string
		if ok > 0 || (skip == 0 && len(fails) == 0) {
			p := fmt.Sprintf("%d passed", ok)
			if len(nonStrict) > 0 {
				p += fmt.Sprintf(" (%d NON-STRICT)", len(nonStrict))
			}
			parts = append(parts, p)
		}
		if len(fails) > 0 {
			parts = append(parts, fmt.Sprintf("%d FAILED", len(fails)))
		}
		if skip > 0 {
			parts = append(parts, fmt.Sprintf("%d skipped: %s", skip, strings.Join(why, "; ")))
		}
		fmt.Fprintf(w, "%-17s %s\n", s.Name, strings.Join(parts, ", "))
		for _, r := range nonStrict {
			fmt.Fprintf(w, "    NON-STRICT %s: %s\n", r.ID, r.NonStrict)
		}
		for _, r := range fails {
			fmt.Fprintf(w, "    FAIL %s: %v\n", r.ID, r.Err)
			failed = append(failed, r.ID)
		}
		passed += ok
		skipped += skip
		lenient += len(nonStrict)
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "FAIL: %d of %d cases failed\n", len(failed), len(results))
	} else {
		fmt.Fprintf(w, "PASS: %d cases passed (%d NON-STRICT), %d skipped\n", passed, lenient, skipped)
	}
	return failed
}

func skipReason(reason string, noLimited bool) string {
	if noLimited {
		return reason + " (-limit-url)"
	}
	return reason
}
