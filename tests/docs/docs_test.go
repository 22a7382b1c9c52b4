// Package docs checks the guides against the code: every Example and Test
// function a guide names as proof must exist.
package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	named   = regexp.MustCompile("`((?:Example|Test)[A-Z_][A-Za-z0-9_]*)`")
	defined = regexp.MustCompile(`(?m)^func ((?:Example|Test)[A-Za-z0-9_]*)\(`)
)

// TestGuidesNameRealTests fails when a guide cites an Example or Test
// function that no test file defines (renamed, or never written).
func TestGuidesNameRealTests(t *testing.T) {
	funcs := map[string]bool{}
	require.NoError(t, filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git") {
			return filepath.SkipDir
		}
		if filepath.Ext(path) != ".go" || !isTestFile(path) {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range defined.FindAllSubmatch(src, -1) {
			funcs[string(m[1])] = true
		}
		return nil
	}))
	guides, err := filepath.Glob("../../docs/*.md")
	require.NoError(t, err)
	require.NotEmpty(t, guides)
	for _, guide := range guides {
		text, err := os.ReadFile(guide)
		require.NoError(t, err)
		for _, m := range named.FindAllSubmatch(text, -1) {
			assert.True(t, funcs[string(m[1])], "%s names %s, which no test file defines", filepath.Base(guide), m[1])
		}
	}
}

func isTestFile(path string) bool {
	return len(path) > len("_test.go") && path[len(path)-len("_test.go"):] == "_test.go"
}
