package main

import (
	"fmt"
	"strconv"
)

// server is one echo server of the comparison, built from servers/<name>.
type server struct {
	name     string
	compress bool // offers permessage-deflate
}

// servers lists the servers in the order the tables show them.
var servers = []server{
	{"sluice-conn", true},
	{"sluice-handler", true},
	{"sluice-poll", true},
	{"sluice-helpers", false},
	{"sluice-frames", false},
	{"gws", true},
	{"gobwas-frames", false},
	{"gobwas-helpers", true},
	{"gorilla", true},
	{"coder", true},
	{"nbio", true},
}

// The baselines every server is held against, round by round.
const (
	baseGWS    = "gws"
	baseGobwas = "gobwas-frames"
)

// metric is what a scenario compares.
type metric int

const (
	msgsPerCPU metric = iota // messages per server CPU-second, higher is better
	hsPerCPU                 // handshakes per server CPU-second, higher is better
	rssPerConn               // server RSS per idle connection, lower is better
)

func (m metric) String() string {
	switch m {
	case msgsPerCPU:
		return "messages per server CPU-second"
	case hsPerCPU:
		return "handshakes per server CPU-second"
	default:
		return "server RSS per idle connection (KiB, lower is better)"
	}
}

// scenario is one line of the matrix: the flags of sluice bench and the
// figure that compares the servers.
type scenario struct {
	name     string
	args     []string
	compress bool
	metric   metric
}

// scenarios returns the matrix: echo at C=1 and C=100, 16 B, 1 KiB and
// 64 KiB, depth 1 and 16; compressed 1 KiB JSON-like text; idle
// connections; a connect storm.
func scenarios(idleConns int) []scenario {
	var list []scenario
	for _, c := range []int{1, 100} {
		for _, size := range []struct{ flag, label string }{{"16", "16B"}, {"1K", "1KiB"}, {"64K", "64KiB"}} {
			for _, depth := range []int{1, 16} {
				list = append(list, scenario{
					name: fmt.Sprintf("C=%d %s d%d", c, size.label, depth),
					args: []string{"-conns", strconv.Itoa(c), "-size", size.flag, "-depth", strconv.Itoa(depth)},
				})
			}
		}
	}
	list = append(list,
		scenario{
			name:     "C=100 1KiB JSON compressed d16",
			args:     []string{"-conns", "100", "-size", "1K", "-depth", "16", "-compress"},
			compress: true,
		},
		scenario{
			name:   fmt.Sprintf("idle %d conns", idleConns),
			args:   []string{"-mode", "idle", "-conns", strconv.Itoa(idleConns)},
			metric: rssPerConn,
		},
		scenario{
			name:   "connect storm 16 workers",
			args:   []string{"-mode", "storm", "-conns", "16"},
			metric: hsPerCPU,
		},
	)
	return list
}
