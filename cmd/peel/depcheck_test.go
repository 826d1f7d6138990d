package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDependencyDirection keeps the layers one-way: cmd → report → scanner
// → rules. A package must not import what sits above it, and rules knows
// nothing of images or the command line.
func TestDependencyDirection(t *testing.T) {
	rulesBelow := []string{
		"github.com/google/go-containerregistry", "github.com/spf13/cobra",
		"github.com/hibiken/asynq", "github.com/redis/go-redis",
		"github.com/peelscan/peel/scanner", "github.com/peelscan/peel/report", "github.com/peelscan/peel/cmd",
	}
	forbidden := map[string][]string{
		"github.com/peelscan/peel/rules":                   rulesBelow,
		"github.com/peelscan/peel/rules/keystore":          append([]string{"github.com/peelscan/peel/rules/"}, rulesBelow...),
		"github.com/peelscan/peel/rules/internal/gitleaks": append([]string{"github.com/peelscan/peel/rules/keystore"}, rulesBelow...),
		"github.com/peelscan/peel/rules/internal/textscan": append([]string{"github.com/zricethezav/gitleaks", "github.com/peelscan/peel/rules/"}, rulesBelow...),
		// The scanner knows nothing of queues, of Redis or of signature
		// libraries: the fleet, the Redis store and scanner/signature sit
		// beside it, and the command line plugs them in.
		"github.com/peelscan/peel/scanner": {
			"github.com/spf13/cobra", "github.com/olekukonko/tablewriter",
			"github.com/peelscan/peel/report", "github.com/peelscan/peel/cmd",
			"github.com/hibiken/asynq", "github.com/redis/go-redis", "github.com/peelscan/peel/scanner/fleet",
			"github.com/peelscan/peel/scanner/cache/rediscache",
			"github.com/peelscan/peel/scanner/signature", "github.com/notaryproject/", "github.com/sigstore/", "oras.land/",
		},
		"github.com/peelscan/peel/scanner/signature": {
			"github.com/spf13/cobra", "github.com/peelscan/peel/report", "github.com/peelscan/peel/cmd",
			// protobuf's reflection turns off the linker's dead-code
			// elimination (see scanner/signature/cosign.go).
			"google.golang.org/protobuf",
		},
		// The fleet runs scans and hands their results up: it renders no
		// report and reads no flags.
		"github.com/peelscan/peel/scanner/fleet": {
			"github.com/spf13/cobra", "github.com/olekukonko/tablewriter",
			"github.com/peelscan/peel/report", "github.com/peelscan/peel/cmd",
		},
		"github.com/peelscan/peel/report": {
			"github.com/spf13/cobra", "github.com/peelscan/peel/cmd", "github.com/peelscan/peel/scanner/signature",
		},
		// The cache store holds opaque bytes: it knows nothing of what the
		// scanner puts in it.
		"github.com/peelscan/peel/scanner/cache": {
			"github.com/peelscan/peel/scanner", "github.com/peelscan/peel/rules", "github.com/google/go-containerregistry",
			"github.com/peelscan/peel/report", "github.com/peelscan/peel/cmd",
		},
		"github.com/peelscan/peel/scanner/cache/rediscache": {
			"github.com/peelscan/peel/scanner", "github.com/peelscan/peel/rules", "github.com/google/go-containerregistry",
			"github.com/peelscan/peel/report", "github.com/peelscan/peel/cmd", "github.com/hibiken/asynq",
		},
	}
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == pkg {
				continue
			}
			for _, b := range bad {
				if dep == b || strings.HasPrefix(dep, strings.TrimSuffix(b, "/")+"/") || strings.HasSuffix(b, "/") && strings.HasPrefix(dep, b) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}

// TestGitleaksQuarantine: rules/internal/gitleaks is the only package of
// peel that imports gitleaks, in its code or its tests.
func TestGitleaksQuarantine(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}} {{join .XTestImports " "}}`, "github.com/peelscan/peel/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] == "github.com/peelscan/peel/rules/internal/gitleaks" {
			continue
		}
		for _, imp := range f[1:] {
			if strings.HasPrefix(imp, "github.com/zricethezav/gitleaks/") {
				t.Errorf("%s imports %s: only rules/internal/gitleaks may", f[0], imp)
			}
		}
	}
}

// TestNoRuleIDsAboveRules: scanner and report read what a finding is from
// the rules' metadata (Kind, Specificity, verification records), never
// from its rule ID: none of their files (tests aside) names one of the
// rules package's rule ID constants, a rule ID, or gitleaks' ID prefix.
func TestNoRuleIDsAboveRules(t *testing.T) {
	consts := map[string]bool{} // names of rules' rule ID constants
	ids := map[string]string{}  // their values
	prefixes := []string{}      // values that start IDs
	fset := token.NewFileSet()
	for _, f := range parseDir(t, fset, "../../rules") {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, "Rule") && n.Name != "GitleaksPrefix" || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					v, _ := strconv.Unquote(lit.Value)
					consts[n.Name] = true
					if n.Name == "GitleaksPrefix" {
						prefixes = append(prefixes, v)
					} else {
						ids[v] = n.Name
					}
				}
			}
		}
	}
	if len(ids) < 10 || len(prefixes) != 1 {
		t.Fatalf("found %d rule ID constants and %d prefixes in rules: the test reads the wrong files", len(ids), len(prefixes))
	}
	for _, dir := range []string{"../../scanner", "../../report"} {
		for name, f := range parseDir(t, fset, dir) {
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.SelectorExpr:
					if x, ok := n.X.(*ast.Ident); ok && x.Name == "rules" && consts[n.Sel.Name] {
						t.Errorf("%s: %s names rules.%s", name, fset.Position(n.Pos()), n.Sel.Name)
					}
				case *ast.BasicLit:
					if n.Kind != token.STRING {
						break
					}
					v, _ := strconv.Unquote(n.Value)
					if c, ok := ids[v]; ok {
						t.Errorf("%s: %s spells out rule ID %q (rules.%s)", name, fset.Position(n.Pos()), v, c)
					}
					for _, p := range prefixes {
						if strings.HasPrefix(v, p) {
							t.Errorf("%s: %s spells out a gitleaks rule ID %q", name, fset.Position(n.Pos()), v)
						}
					}
				}
				return true
			})
		}
	}
}

// parseDir parses the Go files of dir, tests left out.
func parseDir(t *testing.T, fset *token.FileSet, dir string) map[string]*ast.File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	out := map[string]*ast.File{}
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = f
	}
	return out
}
