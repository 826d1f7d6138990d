package main

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The peers' own test suites: gitleaks' testdata with the findings its
// detect tests expect, and trivy's secret-scanner testdata with the
// findings its scanner tests expect, both read from the module cache (make
// peers downloads trivy's module; gitleaks' is in go.mod). peel scans each
// testdata directory as `peel scan dir:…` and must report every expected
// secret, at its file and line, unless testdata/peers/excused.txt says
// why not.

// peerHit is one secret a peer's tests expect: file (relative to the
// testdata directory, archive members after '!'), line and secret.
type peerHit struct {
	file   string
	line   int
	secret string
	tests  []string // the peer's tests that expect it
}

func (h peerHit) key() string { return fmt.Sprintf("%s:%d", h.file, h.line) }

// moduleDir finds a module version in the module cache.
func moduleDir(t *testing.T, mod, version string) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOMODCACHE: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), mod+"@"+version)
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s@%s is not in the module cache (make peers downloads it): %v", mod, version, err)
		}
		t.Skipf("%s@%s is not in the module cache: run `make peers`", mod, version)
	}
	return dir
}

// goModVersion is the version go.mod requires of a module.
func goModVersion(t *testing.T, mod string) string {
	t.Helper()
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == mod {
			return f[1]
		}
	}
	t.Fatalf("go.mod requires no %s", mod)
	return ""
}

// trivyVersion is the trivy release whose secret tests peel is held to
// (the Makefile's TRIVY_VERSION downloads it).
const trivyVersion = "v0.74.0"

// stringValue evaluates the expressions the peers' tests write file names
// and secrets with: string literals, concatenations and filepath.Join.
func stringValue(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		a, ok1 := stringValue(e.X)
		b, ok2 := stringValue(e.Y)
		return a + b, ok1 && ok2 && e.Op == token.ADD
	case *ast.CallExpr:
		if sel, ok := e.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Join" {
			var parts []string
			for _, a := range e.Args {
				s, ok := stringValue(a)
				if !ok {
					return "", false
				}
				parts = append(parts, s)
			}
			return filepath.ToSlash(filepath.Join(parts...)), true
		}
	}
	return "", false
}

func fields(lit *ast.CompositeLit) map[string]ast.Expr {
	m := map[string]ast.Expr{}
	for _, el := range lit.Elts {
		if kv, ok := el.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok {
				m[id.Name] = kv.Value
			}
		}
	}
	return m
}

func intValue(e ast.Expr) int {
	if b, ok := e.(*ast.BasicLit); ok && b.Kind == token.INT {
		n, _ := strconv.Atoi(b.Value)
		return n
	}
	return 0
}

// gitleaksExpected reads the findings gitleaks' detect tests expect in
// files of its testdata (report.Finding literals whose File is there).
func gitleaksExpected(t *testing.T, dir string) []peerHit {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, "detect", "detect_test.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]*peerHit{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok {
			continue
		}
		ast.Inspect(fn, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			m := fields(lit)
			file, ok := stringValue(m["File"])
			if !ok || !strings.HasPrefix(file, "../testdata/") || m["Commit"] != nil {
				return true
			}
			secret, _ := stringValue(m["Secret"])
			h := peerHit{file: strings.TrimPrefix(file, "../testdata/"), line: intValue(m["StartLine"]), secret: secret}
			k := h.key() + " " + secret
			if byKey[k] == nil {
				byKey[k] = &h
			}
			byKey[k].tests = append(byKey[k].tests, fn.Name.Name)
			return true
		})
	}
	return sortedHits(byKey)
}

// trivyExpected reads the findings trivy's secret scanner tests expect in
// files of its testdata: each test case with an inputFilePath, its
// expected findings written inline or as variables of the test. The
// secret is recovered from the file's line: trivy's Match is the line with
// the secret masked by asterisks.
func trivyExpected(t *testing.T, dir string) []peerHit {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, "scanner_test.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]*ast.CompositeLit{}
	funcs := map[string]*ast.FuncLit{}
	calls := map[string]*ast.CallExpr{}
	varMatch := map[string]string{} // Match of a finding a helper made
	ast.Inspect(f, func(n ast.Node) bool {
		if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == 1 && len(as.Rhs) == 1 {
			if id, ok := as.Lhs[0].(*ast.Ident); ok {
				switch r := as.Rhs[0].(type) {
				case *ast.FuncLit:
					funcs[id.Name] = r
				case *ast.CallExpr:
					calls[id.Name] = r
				}
			}
		}
		return true
	})
	// A finding made by a helper of the test (openAIFinding(id, …, 56)):
	// its literal, with Match evaluated from the call's arguments.
	for name, call := range calls {
		fn, ok := call.Fun.(*ast.Ident)
		if !ok || funcs[fn.Name] == nil {
			continue
		}
		if lit, match := helperFinding(funcs[fn.Name], call); lit != nil {
			vars[name] = lit
			varMatch[name] = match
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok {
			for i, id := range vs.Names {
				if i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.CompositeLit); ok {
						vars[id.Name] = lit
					}
				}
			}
		}
		if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == 1 && len(as.Rhs) == 1 {
			if id, ok := as.Lhs[0].(*ast.Ident); ok {
				if lit, ok := as.Rhs[0].(*ast.CompositeLit); ok {
					vars[id.Name] = lit
				}
			}
		}
		return true
	})
	byKey := map[string]*peerHit{}
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		m := fields(lit)
		input, ok := stringValue(m["inputFilePath"])
		if !ok || m["want"] == nil {
			return true
		}
		name, _ := stringValue(m["name"])
		config, _ := stringValue(m["configPath"])
		want, ok := m["want"].(*ast.CompositeLit)
		if !ok {
			return true
		}
		list, ok := fields(want)["Findings"].(*ast.CompositeLit)
		if !ok {
			return true
		}
		file := strings.TrimPrefix(input, "testdata/")
		lines := readLines(t, filepath.Join(dir, input))
		for _, el := range list.Elts {
			var fl *ast.CompositeLit
			helperMatch := ""
			switch el := el.(type) {
			case *ast.Ident:
				fl = vars[el.Name]
				helperMatch = varMatch[el.Name]
			case *ast.CompositeLit:
				fl = el
			}
			if fl == nil {
				t.Fatalf("trivy test %q: expected finding %T not understood", name, el)
			}
			fm := fields(fl)
			line := intValue(fm["StartLine"])
			match, ok := stringValue(fm["Match"])
			if !ok {
				match = helperMatch
			}
			for _, secret := range unmask(lines, line, match) {
				h := peerHit{file: file, line: line, secret: secret}
				k := h.key() + " " + secret
				if byKey[k] == nil {
					byKey[k] = &h
				}
				byKey[k].tests = append(byKey[k].tests, name+" ("+strings.TrimPrefix(config, "testdata/")+")")
			}
		}
		return true
	})
	return sortedHits(byKey)
}

// helperFinding evaluates a call of a test's finding helper whose Match
// is strings.Repeat("*", n) of one of its parameters: the literal it
// returns and the Match of this call.
func helperFinding(fn *ast.FuncLit, call *ast.CallExpr) (*ast.CompositeLit, string) {
	params := map[string]int{}
	i := 0
	for _, f := range fn.Type.Params.List {
		for _, n := range f.Names {
			params[n.Name] = i
			i++
		}
	}
	repeats := map[string]string{}
	var lit *ast.CompositeLit
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			id, ok1 := n.Lhs[0].(*ast.Ident)
			c, ok2 := n.Rhs[0].(*ast.CallExpr)
			if ok1 && ok2 && len(c.Args) == 2 {
				if sel, ok := c.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Repeat" {
					unit, _ := stringValue(c.Args[0])
					if p, ok := c.Args[1].(*ast.Ident); ok {
						if k, ok := params[p.Name]; ok && k < len(call.Args) {
							repeats[id.Name] = strings.Repeat(unit, intValue(call.Args[k]))
						}
					}
				}
			}
		case *ast.ReturnStmt:
			if len(n.Results) == 1 {
				lit, _ = n.Results[0].(*ast.CompositeLit)
			}
		}
		return true
	})
	if lit == nil {
		return nil, ""
	}
	if id, ok := fields(lit)["Match"].(*ast.Ident); ok {
		return lit, repeats[id.Name]
	}
	return nil, ""
}

func readLines(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
}

// unmask finds a masked match starting on line (1-based) and returns what
// stands in the file where it has runs of asterisks (a multi-line secret's
// match spans the lines after).
func unmask(lines []string, line int, match string) []string {
	if line < 1 || line > len(lines) {
		return nil
	}
	text := strings.Join(lines[line-1:], "\n")
	for at := 0; at <= len(lines[line-1]) && at+len(match) <= len(text); at++ {
		ok := true
		for i := 0; i < len(match) && ok; i++ {
			ok = match[i] == '*' || match[i] == text[at+i]
		}
		if !ok {
			continue
		}
		var out []string
		for i := 0; i < len(match); {
			if match[i] != '*' {
				i++
				continue
			}
			j := i
			for j < len(match) && match[j] == '*' {
				j++
			}
			out = append(out, text[at+i:at+j])
			i = j
		}
		return out
	}
	return []string{"?unmatched " + match}
}

func sortedHits(m map[string]*peerHit) []peerHit {
	out := make([]peerHit, 0, len(m))
	for _, h := range m {
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.file != b.file {
			return a.file < b.file
		}
		if a.line != b.line {
			return a.line < b.line
		}
		return a.secret < b.secret
	})
	return out
}

// excused reads testdata/peers/excused.txt: "SUITE FILE:LINE reason", one
// expected finding per line that peel does not report, and why.
func excused(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("../../testdata/peers/excused.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, " ", 3)
		if len(parts) < 3 {
			t.Fatalf("testdata/peers/excused.txt: %q is not SUITE FILE:LINE reason", line)
		}
		out[parts[0]+" "+parts[1]] = parts[2]
	}
	return out
}

// peelSecret is one secret peel reports: its first line and the secret.
type peelSecret struct {
	line   int
	secret string
}

// peelHits scans a directory and returns the reported secrets by file,
// relative to the directory with archive members after '!' (the member of
// a single-file compression dropped, as the peers name the .gz itself).
// The suites are the test data of modules in the module cache, which peel
// dismisses as a dependency's tests unless told to include them.
func peelHits(t *testing.T, dir string) map[string][]peelSecret {
	t.Helper()
	r := peel(t, "scan", "--no-cache", "--show-secrets", "--include-dependency-tests", "--format", "json", "dir:"+dir)
	if r.code != 0 && r.code != 1 {
		t.Fatalf("peel scan dir:%s: exit %d\n%s", dir, r.code, r.stderr)
	}
	rep := decode(t, r)
	out := map[string][]peelSecret{}
	for _, img := range rep.Images {
		for _, f := range img.Findings {
			if len(f.Path) == 0 {
				continue
			}
			chain := append([]string(nil), f.Path...)
			rel, err := filepath.Rel(dir, chain[0])
			if err != nil {
				continue
			}
			chain[0] = rel
			for _, ext := range []string{".gz", ".xz", ".zst", ".bz2"} {
				n := len(chain)
				if n >= 2 && strings.HasSuffix(chain[n-2], ext) && !strings.Contains(chain[n-2], ".tar") {
					chain = chain[:n-1]
				}
			}
			k := strings.Join(chain, "!")
			out[k] = append(out[k], peelSecret{f.Line, f.Secret})
		}
	}
	return out
}

// pemArmor is a PEM block's BEGIN or END line.
var pemArmor = regexp.MustCompile(`-----(?:BEGIN|END)[A-Z0-9 ]*-----`)

// covers reports whether one of peel's secrets in a file is at the
// expected line and holds the expected secret or is held by it, blanks
// aside (tools cut secrets differently: a key=value pair or its value, a
// PEM block or its body). A long secret (a key's body, which peel reports
// at its BEGIN line and trivy at the next) may start a line off; a secret
// that is PEM armor alone is held by any secret there.
func covers(got []peelSecret, line int, want string) bool {
	w := strings.Join(strings.Fields(want), "")
	slack := 0
	if len(w) >= 64 {
		slack = 1
	}
	armor := pemArmor.ReplaceAllString(w, "") == ""
	for _, g := range got {
		if line < g.line || line > g.line+strings.Count(g.secret, "\n")+slack {
			continue
		}
		s := strings.Join(strings.Fields(g.secret), "")
		if armor || strings.Contains(s, w) || w != "" && s != "" && strings.Contains(w, s) {
			return true
		}
	}
	return false
}

// TestPeerSuites: peel reports every secret gitleaks' and trivy's own
// tests expect in their testdata, or testdata/peers/excused.txt says why
// not; an excuse for a finding peel reports, or for none expected, fails
// too.
func TestPeerSuites(t *testing.T) {
	gl := moduleDir(t, "github.com/zricethezav/gitleaks/v8", goModVersion(t, "github.com/zricethezav/gitleaks/v8"))
	tv := moduleDir(t, "github.com/aquasecurity/trivy", trivyVersion)
	excuses := excused(t)
	used := map[string]bool{}
	for _, suite := range []struct {
		name, dir string
		want      []peerHit
	}{
		{"gitleaks", filepath.Join(gl, "testdata"), gitleaksExpected(t, gl)},
		{"trivy", filepath.Join(tv, "pkg", "fanal", "secret", "testdata"), trivyExpected(t, filepath.Join(tv, "pkg", "fanal", "secret"))},
	} {
		got := peelHits(t, suite.dir)
		found, excusedN := 0, 0
		for _, h := range suite.want {
			k := suite.name + " " + h.key()
			switch why, ok := excuses[k]; {
			case covers(got[h.file], h.line, h.secret):
				found++
				if ok {
					t.Errorf("%s: peel reports it, yet excused.txt says %q", k, why)
				}
				used[k] = true
			case ok:
				excusedN++
				used[k] = true
				t.Logf("%s: not reported: %s", k, why)
			default:
				t.Errorf("%s: %s's tests %v expect a secret of %d bytes there; peel reports %d secrets in the file", k, suite.name, h.tests, len(h.secret), len(got[h.file]))
			}
		}
		t.Logf("%s: %d expected findings in its testdata, peel reports %d, %d excused", suite.name, len(suite.want), found, excusedN)
	}
	for k := range excuses {
		if !used[k] {
			t.Errorf("excused.txt: %s is no expected finding", k)
		}
	}
}
