package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// benchResult is the part of sluice bench's JSON line the driver reads;
// the whole line is kept as Raw.
type benchResult struct {
	MsgsPerSec       float64 `json:"msgs_per_s"`
	HandshakesPerSec float64 `json:"handshakes_per_s"`
	Latency          *struct {
		P50  float64 `json:"p50"`
		P99  float64 `json:"p99"`
		P999 float64 `json:"p999"`
	} `json:"latency_us"`
	Server *struct {
		CPUPercent          float64  `json:"cpu_pct"`
		KernelShare         *float64 `json:"kernel_share"`
		MsgsPerCPUSec       float64  `json:"msgs_per_cpu_s"`
		HandshakesPerCPUSec float64  `json:"handshakes_per_cpu_s"`
		RSSPerConn          float64  `json:"rss_per_conn"`
		Error               string   `json:"error"`
	} `json:"server"`
}

// outcome is one run: one server, one scenario, one round.
type outcome struct {
	Server string  `json:"server"`
	Round  int     `json:"round"`
	Value  float64 `json:"value"` // the scenario's metric; 0 when Err is set
	Rate   float64 `json:"rate"`  // msgs/s or handshakes/s
	P99us  float64 `json:"p99_us,omitempty"`
	CPU    float64 `json:"server_cpu_pct"`
	// KernelShare is the part of the server's CPU time spent in the
	// kernel, 0 to 1; nil when sluice bench could not tell.
	KernelShare *float64        `json:"kernel_share,omitempty"`
	Load        float64         `json:"bench_cpu_pct"` // sluice bench's own CPU, of one core
	Err         string          `json:"error,omitempty"`
	Raw         json.RawMessage `json:"bench,omitempty"`
}

// runner starts servers and sluice bench, pinned to their cores.
type runner struct {
	bin        string // directory of the binaries
	pin        bool   // taskset is there and the machine has 2 cores
	serverCPU  string
	benchCPU   string
	benchFlags []string // -warmup, -duration, -settle
	timeout    time.Duration
}

// command returns the command that runs bin/name with args on cpu.
func (r *runner) command(ctx context.Context, cpu, name string, args ...string) *exec.Cmd {
	path := filepath.Join(r.bin, name)
	if r.pin {
		// taskset execs the program: the process id is the program's.
		return exec.CommandContext(ctx, "taskset", append([]string{"-c", cpu, path}, args...)...)
	}
	return exec.CommandContext(ctx, path, args...)
}

// run measures srv in scenario sc once.
func (r *runner) run(ctx context.Context, srv server, sc scenario, round int) outcome {
	out := outcome{Server: srv.name, Round: round}
	fail := func(err error) outcome {
		out.Err = err.Error()
		return out
	}
	addr, err := freeAddr()
	if err != nil {
		return fail(err)
	}
	args := []string{"-addr", addr}
	if sc.compress {
		args = append(args, "-compress")
	}
	var serverLog bytes.Buffer
	sv := r.command(context.WithoutCancel(ctx), r.serverCPU, srv.name, args...)
	sv.Stdout, sv.Stderr = &serverLog, &serverLog
	if err := sv.Start(); err != nil {
		return fail(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- sv.Wait() }()
	defer stopServer(sv, exited)
	if err := waitListening(ctx, addr, exited); err != nil {
		return fail(fmt.Errorf("%s did not start: %v: %s", srv.name, err, lastLine(serverLog.String())))
	}

	bctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	bargs := append([]string{"bench", "-progress", "0", "-pid", fmt.Sprint(sv.Process.Pid)}, r.benchFlags...)
	bargs = append(append(bargs, sc.args...), "ws://"+addr+"/")
	bc := r.command(bctx, r.benchCPU, "sluice", bargs...)
	var stdout, stderr bytes.Buffer
	bc.Stdout, bc.Stderr = &stdout, &stderr
	start := time.Now()
	if err := bc.Run(); err != nil {
		return fail(fmt.Errorf("sluice bench: %v: %s", err, lastLine(stderr.String())))
	}
	if ps := bc.ProcessState; ps != nil {
		out.Load = 100 * (ps.UserTime() + ps.SystemTime()).Seconds() / time.Since(start).Seconds()
	}
	line := lastLine(stdout.String())
	var res benchResult
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		return fail(fmt.Errorf("sluice bench printed no result: %v", err))
	}
	out.Raw = json.RawMessage(line)
	if res.Server == nil || res.Server.Error != "" {
		return fail(errors.New("no server figures (is /proc there?)"))
	}
	out.CPU, out.KernelShare = res.Server.CPUPercent, res.Server.KernelShare
	if res.Latency != nil {
		out.P99us = res.Latency.P99
	}
	switch sc.metric {
	case msgsPerCPU:
		out.Value, out.Rate = res.Server.MsgsPerCPUSec, res.MsgsPerSec
	case hsPerCPU:
		out.Value, out.Rate = res.Server.HandshakesPerCPUSec, res.HandshakesPerSec
	case rssPerConn:
		out.Value = res.Server.RSSPerConn / 1024
	}
	return out
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitListening waits until addr accepts connections, the server exits,
// or ten seconds pass.
func waitListening(ctx context.Context, addr string, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		select {
		case err := <-exited:
			return fmt.Errorf("exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// stopServer asks the server to stop, and kills it if it has not within
// five seconds.
func stopServer(cmd *exec.Cmd, exited <-chan error) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// canPin reports whether servers and load can have a core each.
func canPin() bool {
	if _, err := exec.LookPath("taskset"); err != nil {
		return false
	}
	out, err := exec.Command("nproc").Output()
	return err == nil && strings.TrimSpace(string(out)) != "1"
}

// build builds every server and sluice into bin.
func build(ctx context.Context, bin, root string) error {
	for _, s := range servers {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, s.name), "./servers/"+s.name)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building %s: %w", s.name, err)
		}
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-C", root, "-o", filepath.Join(abs, "sluice"), "./cmd/sluice")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building sluice: %w", err)
	}
	return nil
}
