// Package examples checks that the exported API of the core packages has
// runnable examples that pkg.go.dev can show whole: every exported
// function, method and type has an Example, each ends with "// Output:"
// (a compile-only example is the exception, counted), and none calls a
// helper declared in the test files, which pkg.go.dev would not show.
//
// Each package has allowances for the three counts, and a count must
// equal its allowance: above it, an entry point lost its example; below
// it, lower the allowance, so that the count cannot go back up.
package examples

import (
	"go/ast"
	"go/build"
	"go/doc"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// packages lists the packages checked, by directory from the module root,
// with their allowances. Adding one is one line.
var packages = []struct {
	dir string
	// missing is the number of exported functions, methods and types
	// without an example.
	missing int
	// hidden is the number of examples that call a helper declared
	// outside the example function.
	hidden int
	// noOutput is the number of examples that only compile (no
	// "// Output:"): those that need a real network.
	noOutput int
}{
	{dir: "ws"},
	{dir: "wsflate"},
	{dir: "wsutil"},
}

func TestExamples(t *testing.T) {
	for _, p := range packages {
		t.Run(p.dir, func(t *testing.T) {
			t.Parallel()
			api := load(t, filepath.Join("..", "..", p.dir))
			missing, hidden, noOutput := api.missing(), api.hidden(), api.noOutput()
			for _, m := range missing {
				t.Logf("no example: %s", m)
			}
			for _, h := range hidden {
				t.Logf("hidden helper: %s", h)
			}
			for _, n := range noOutput {
				t.Logf("no // Output: %s", n)
			}
			check(t, "exported entry points without an example", len(missing), p.missing)
			check(t, "examples that call a helper pkg.go.dev does not show", len(hidden), p.hidden)
			check(t, "examples without // Output:", len(noOutput), p.noOutput)
		})
	}
}

// check compares a count with its allowance, which must follow it down.
func check(t *testing.T, what string, n, allowed int) {
	t.Helper()
	switch {
	case n > allowed:
		t.Errorf("%d %s (allowed: %d): see the log for which", n, what, allowed)
	case n < allowed:
		t.Errorf("%d %s, fewer than the %d allowed: lower the allowance in examples_test.go to %d", n, what, allowed, n)
	}
}

// api is a package's documentation with its examples, and the names
// declared at the top level of its test files.
type api struct {
	pkg       *doc.Package
	testFiles []*ast.File
	examples  []*ast.FuncDecl // every Example function
	helpers   map[string]bool // top-level names of the test files that are not examples
}

func load(t *testing.T, dir string) *api {
	t.Helper()
	bp, err := build.ImportDir(dir, 0)
	require.NoError(t, err)
	fset := token.NewFileSet()
	var files []*ast.File
	a := &api{helpers: map[string]bool{}}
	for _, group := range []struct {
		names []string
		test  bool
	}{{bp.GoFiles, false}, {bp.TestGoFiles, true}, {bp.XTestGoFiles, true}} {
		for _, name := range group.names {
			f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
			require.NoError(t, err)
			files = append(files, f)
			if group.test {
				a.collect(f)
				a.testFiles = append(a.testFiles, f)
			}
		}
	}
	a.pkg, err = doc.NewFromFiles(fset, files, "github.com/sluice-ws/sluice/"+filepath.Base(dir))
	require.NoError(t, err)
	return a
}

// collect notes the examples and the other top-level names of a test file.
func (a *api) collect(f *ast.File) {
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil && strings.HasPrefix(d.Name.Name, "Example") {
				a.examples = append(a.examples, d)
			} else if d.Recv == nil {
				a.helpers[d.Name.Name] = true
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.Name != "_" {
							a.helpers[n.Name] = true
						}
					}
				case *ast.TypeSpec:
					a.helpers[s.Name.Name] = true
				}
			}
		}
	}
}

// missing lists the exported functions, methods and types without an
// example.
func (a *api) missing() []string {
	var out []string
	need := func(name string, ex []*doc.Example) {
		if len(ex) == 0 {
			out = append(out, name)
		}
	}
	for _, f := range a.pkg.Funcs {
		need(f.Name, f.Examples)
	}
	for _, typ := range a.pkg.Types {
		need(typ.Name, typ.Examples)
		for _, f := range typ.Funcs {
			need(f.Name, f.Examples)
		}
		for _, m := range typ.Methods {
			need(typ.Name+"."+m.Name, m.Examples)
		}
	}
	return out
}

// hidden lists the examples that use a name declared at the top level of
// the test files: pkg.go.dev shows the example's body only. Names the
// example declares itself (variables, parameters, struct fields) are its
// own, wherever they are declared in it.
func (a *api) hidden() []string {
	var out []string
	for _, ex := range a.examples {
		local := declared(ex.Body)
		var used []string
		var visit func(n ast.Node) bool
		visit = func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				ast.Inspect(n.X, visit)
				return false // n.Sel is a field or a package member
			case *ast.KeyValueExpr:
				if _, ok := n.Key.(*ast.Ident); ok {
					ast.Inspect(n.Value, visit)
					return false // a field name in a composite literal
				}
			case *ast.Field:
				ast.Inspect(n.Type, visit)
				return false // the names are declared here
			case *ast.Ident:
				if a.helpers[n.Name] && !local[n.Name] {
					used = append(used, n.Name)
				}
			}
			return true
		}
		ast.Inspect(ex.Body, visit)
		if len(used) > 0 {
			slices.Sort(used)
			out = append(out, ex.Name.Name+" uses "+strings.Join(slices.Compact(used), ", "))
		}
	}
	return out
}

// declared returns the names declared anywhere in body: := and var, range
// variables, parameters and results of function literals.
func declared(body *ast.BlockStmt) map[string]bool {
	names := map[string]bool{}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			if n.Tok == token.DEFINE {
				for _, l := range n.Lhs {
					if id, ok := l.(*ast.Ident); ok {
						names[id.Name] = true
					}
				}
			}
		case *ast.RangeStmt:
			if n.Tok == token.DEFINE {
				for _, e := range []ast.Expr{n.Key, n.Value} {
					if id, ok := e.(*ast.Ident); ok {
						names[id.Name] = true
					}
				}
			}
		case *ast.ValueSpec:
			for _, id := range n.Names {
				names[id.Name] = true
			}
		case *ast.TypeSpec:
			names[n.Name.Name] = true
		case *ast.FuncType:
			for _, fl := range []*ast.FieldList{n.Params, n.Results} {
				if fl == nil {
					continue
				}
				for _, f := range fl.List {
					for _, id := range f.Names {
						names[id.Name] = true
					}
				}
			}
		}
		return true
	})
	return names
}

// noOutput lists the examples without an output comment.
func (a *api) noOutput() []string {
	var out []string
	for _, ex := range doc.Examples(a.testFiles...) {
		if ex.Output == "" && !ex.EmptyOutput {
			out = append(out, "Example"+ex.Name)
		}
	}
	return out
}

func TestCheckFindsHelpers(t *testing.T) {
	t.Parallel()
	src := `package x_test
var shared = 1
type conn struct{ addr string }
func pair() (int, int) { return 1, 2 }
func ExampleA() {
	a, _ := pair()
	c := conn{addr: "x"}
	_ = c.addr
	_, _ = a, shared
}
func ExampleB() {
	s := struct{ pair int }{pair: 3}
	_ = s.pair
	conn := 4 // shadows the helper type
	_ = conn
	// Output:
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x_test.go", src, parser.ParseComments)
	require.NoError(t, err)
	a := &api{helpers: map[string]bool{}, testFiles: []*ast.File{f}}
	a.collect(f)
	assert.Equal(t, []string{"ExampleA uses conn, pair, shared"}, a.hidden())
	assert.Equal(t, []string{"ExampleA"}, a.noOutput())
}
