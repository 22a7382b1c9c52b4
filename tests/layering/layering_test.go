// Package layering checks the import rules of CONTRIBUTING.md: ws ← wsutil,
// ws ← wsflate, wsutil and wsflate never import each other, ws ← wsproxy
// keeps golang.org/x/net to itself, wsroom is on wsutil, and the command
// uses exported API only, with two exceptions: cmd/sluice is internal/cli,
// which it shares with the NATS build in the nested module wsnats, and
// internal/cli runs the conformance suite of internal/conform, a tool
// rather than API, which itself uses exported API only.
package layering

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/sluice-ws/sluice"

// deps lists the packages pkg imports, directly or not, test files aside.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
	require.NoError(t, err, "go list %s", pkg)
	var list []string
	for _, line := range strings.Fields(string(out)) {
		if line != pkg {
			list = append(list, line)
		}
	}
	return list
}

func TestLayering(t *testing.T) {
	cli := []string{module + "/ws", module + "/wsutil", module + "/wsroom", module + "/wsflate", module + "/wsproxy",
		module + "/internal/bufpool", module + "/internal/conform", "golang.org/x/net",
		"github.com/gobwas/httphead", "golang.org/x/sys/cpu", "golang.org/x/sys/unix", "github.com/klauspost/compress"}
	cases := []struct {
		pkg     string
		allowed []string // import path prefixes outside the standard library
	}{
		{module + "/ws", []string{"github.com/gobwas/httphead", "golang.org/x/sys/cpu"}},
		// x/sys/unix: epoll for the event-loop mode (PollServer).
		{module + "/wsutil", []string{module + "/ws", module + "/internal/bufpool", "github.com/gobwas/httphead", "golang.org/x/sys/cpu",
			"golang.org/x/sys/unix"}},
		{module + "/wsflate", []string{module + "/ws", "github.com/gobwas/httphead", "golang.org/x/sys/cpu",
			"github.com/klauspost/compress"}},
		// SOCKS5 needs golang.org/x/net: only the programs that import
		// wsproxy compile it.
		{module + "/wsproxy", []string{module + "/ws", "github.com/gobwas/httphead", "golang.org/x/sys/cpu",
			"golang.org/x/net/proxy", "golang.org/x/net/internal/socks"}},
		{module + "/wsroom", []string{module + "/ws", module + "/wsutil", module + "/internal/bufpool", "github.com/gobwas/httphead", "golang.org/x/sys/cpu",
			"golang.org/x/sys/unix"}},
		{module + "/internal/wstest", nil},
		{module + "/internal/bufpool", nil},
		{module + "/internal/conform", []string{module + "/ws", module + "/wsflate",
			"github.com/gobwas/httphead", "golang.org/x/sys/cpu", "github.com/klauspost/compress"}},
		{module + "/internal/cli", cli},
		{module + "/cmd/sluice", append([]string{module + "/internal/cli"}, cli...)},
	}
	for _, tc := range cases {
		t.Run(strings.TrimPrefix(tc.pkg, module+"/"), func(t *testing.T) {
			for _, dep := range deps(t, tc.pkg) {
				ok := false
				for _, prefix := range tc.allowed {
					if dep == prefix || strings.HasPrefix(dep, prefix+"/") {
						ok = true
						break
					}
				}
				require.True(t, ok, "%s imports %s, which its layer may not", tc.pkg, dep)
			}
		})
	}
}

// TestNoNATSInCore: a program that imports only the core packages, or the
// in-process rooms, compiles no NATS in, and neither does the core build
// of the sluice command; the NATS backend is the nested module wsnats,
// which only its importers build.
func TestNoNATSInCore(t *testing.T) {
	gomod, err := os.ReadFile("../../go.mod")
	require.NoError(t, err)
	require.NotContains(t, string(gomod), "github.com/nats-io/", "the core module requires NATS")
	for _, pkg := range []string{"ws", "wsutil", "wsflate", "wsroom", "internal/cli", "cmd/sluice"} {
		t.Run(pkg, func(t *testing.T) {
			for _, dep := range deps(t, module+"/"+pkg) {
				require.False(t, strings.HasPrefix(dep, "github.com/nats-io/"), "%s compiles in %s", pkg, dep)
				require.NotEqual(t, module+"/wsnats", dep, "%s imports the NATS backend", pkg)
			}
		})
	}
}
