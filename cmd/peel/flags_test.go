package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/olekukonko/tablewriter/pkg/twwidth"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/report"
)

// peelInDir runs the binary in dir with env added.
func peelInDir(t *testing.T, dir string, env []string, args ...string) run {
	t.Helper()
	cmd := exec.Command(peelBin, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "XDG_CACHE_HOME="+t.TempDir(), "PEEL_FINGERPRINT_KEY="), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := run{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestEnvironmentAndConfigFileRun: PEEL_FAIL_ON=none lets v1 pass, as
// --fail-on none does; a peel.yaml in the working directory is read, and
// the command line wins over it.
func TestEnvironmentAndConfigFileRun(t *testing.T) {
	if r := peelEnv(t, []string{"PEEL_FAIL_ON=none"}, "", "scan", fx("sts-v1.tar")); r.code != 0 || !strings.Contains(r.stdout, "4 finding(s)") {
		t.Errorf("PEEL_FAIL_ON=none: exit %d\n%s", r.code, r.stderr)
	}
	if r := peelEnv(t, []string{"PEEL_FAIL_ON=severe"}, "", "scan", fx("sts-v1.tar")); r.code != 2 || !strings.HasPrefix(r.stderr, "peel: bad flag: PEEL_FAIL_ON: unknown severity") {
		t.Errorf("PEEL_FAIL_ON=severe: exit %d %q", r.code, r.stderr)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "peel.yaml"), []byte("# team defaults\nfail-on: critical\nformat: json\nseverity: [high]\n"), 0o644)
	r := peelInDir(t, dir, nil, "scan", fx("sts-v1.tar"))
	rep := decode(t, r)
	if r.code != 0 || len(rep.Images[0].Findings) != 0 || rep.Summary.Filtered != 4 {
		t.Errorf("peel.yaml: exit %d, %d findings, %d filtered", r.code, len(rep.Images[0].Findings), rep.Summary.Filtered)
	}
	if r := peelInDir(t, dir, nil, "scan", "--severity", "critical", fx("sts-v1.tar")); r.code != 1 || len(decode(t, r).Images[0].Findings) != 4 {
		t.Errorf("--severity over peel.yaml: exit %d", r.code)
	}
	os.WriteFile(filepath.Join(dir, "peel.yaml"), []byte("fail-no: high\n"), 0o644)
	if r := peelInDir(t, dir, nil, "scan", fx("sts-v1.tar")); r.code != 2 || !strings.HasPrefix(r.stderr, `peel: bad flag: --config-file peel.yaml: unknown key "fail-no"`) {
		t.Errorf("bad key: exit %d %q", r.code, r.stderr)
	}
}

// TestSeverityFilter: --severity keeps the findings of the severities
// named (any case, comma-separated or repeated), in every format, counts
// the others and fails only on those kept.
func TestSeverityFilter(t *testing.T) {
	all := decode(t, peel(t, "scan", "-f", "json", fx("zoo.tar")))
	count := map[string]int{}
	for _, f := range all.Images[0].Findings {
		count[f.Severity.String()]++
	}
	if count["critical"] == 0 || count["high"] == 0 || count["medium"]+count["low"] == 0 {
		t.Fatalf("the zoo's severities: %v", count)
	}
	for _, args := range [][]string{{"--severity", "CRITICAL,High"}, {"--severity", "critical", "--severity", "high"}} {
		r := peel(t, append(append([]string{"scan", "-f", "json"}, args...), fx("zoo.tar"))...)
		rep := decode(t, r)
		for _, f := range rep.Images[0].Findings {
			if s := f.Severity.String(); s != "critical" && s != "high" {
				t.Errorf("%v: a %s finding", args, s)
			}
		}
		if n := len(rep.Images[0].Findings); n != count["critical"]+count["high"] || rep.Summary.Filtered != count["medium"]+count["low"] || r.code != 1 {
			t.Errorf("%v: %d findings, %d filtered, exit %d", args, n, rep.Summary.Filtered, r.code)
		}
	}
	// Only low findings kept, failing from high: nothing fails.
	r := peel(t, "scan", "--severity", "low", "--fail-on", "high", fx("zoo.tar"))
	if r.code != 0 || !strings.Contains(r.stdout, "of other severities not shown") || strings.Contains(r.stdout, "CRITICAL") {
		t.Errorf("--severity low: exit %d\n%s", r.code, r.stdout)
	}
}

// TestExitCode: --exit-code is the status for findings, 0 makes them
// never fail; a clean image still exits 0.
func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		image, code string
		want        int
	}{{"sts-v1.tar", "3", 3}, {"sts-v1.tar", "0", 0}, {"sts-v2.tar", "3", 0}, {"sts-v1.tar", "1", 1}} {
		r := peel(t, "scan", "--exit-code", tc.code, fx(tc.image))
		if r.code != tc.want {
			t.Errorf("%s --exit-code %s: exit %d, want %d", tc.image, tc.code, r.code, tc.want)
		}
		if tc.image == "sts-v1.tar" && !strings.Contains(r.stdout, "4 finding(s)") {
			t.Errorf("--exit-code %s: no report", tc.code)
		}
	}
}

// TestSkipFlags: --skip-files and --skip-dirs keep files from being read,
// and the summary says how many.
func TestSkipFlags(t *testing.T) {
	r := peel(t, "scan", "-f", "json", "--skip-files", "/opt/*.jks", fx("sts-v1.tar"))
	rep := decode(t, r)
	for _, f := range rep.Images[0].Findings {
		if strings.HasPrefix(f.Location, "/opt/") {
			t.Errorf("a skipped file was reported: %s", f.Location)
		}
	}
	if rep.Summary.Skipped != 2 || len(rep.Images[0].Findings) != 2 {
		t.Errorf("skipped %d, %d findings", rep.Summary.Skipped, len(rep.Images[0].Findings))
	}
	r = peel(t, "scan", "--skip-dirs", "**/BOOT-INF,/opt", fx("sts-v1.tar"))
	if r.code != 0 || !strings.Contains(r.stdout, "No secrets found.") || !regexp.MustCompile(`; \d+ file\(s\) skipped in`).MatchString(r.stdout) {
		t.Errorf("--skip-dirs: exit %d\n%s", r.code, r.stdout)
	}
	r = peel(t, "scan", "--skip-files", "**/application.properties", "dir:"+fx("config-10.2.1"))
	if r.code != 0 {
		t.Errorf("--skip-files on a dir: exit %d\n%s", r.code, r.stdout)
	}
}

// TestOutputsOnStdout: -o json=- writes JSON, and only JSON, to stdout,
// the summary going to stderr; an unknown FORMAT= or a missing directory
// fails before the scan and writes nothing (not even a file named after
// the value).
func TestOutputsOnStdout(t *testing.T) {
	dir := t.TempDir()
	r := peelInDir(t, dir, nil, "scan", "-o", "json=-", "-o", "sarif=r.sarif", fx("sts-v1.tar"))
	var rep report.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 1 || !strings.Contains(r.stderr, "4 finding(s)") {
		t.Errorf("-o json=-: exit %d, %v\nstdout %.200q\nstderr %q", r.code, err, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "r.sarif")); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"yaml=x.yaml", "jsno=out.json"} {
		r := peelInDir(t, dir, nil, "scan", "-o", bad, fx("sts-v1.tar"))
		if r.code != 2 || !strings.Contains(r.stderr, "unknown format") || r.stdout != "" {
			t.Errorf("-o %s: exit %d %q", bad, r.code, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, bad)); err == nil {
			t.Errorf("-o %s wrote a file named so", bad)
		}
	}
	if r := peel(t, "scan", "-f", "JSON", "--fail-on", "CRITICAL", fx("sts-v1.tar")); r.code != 1 || decode(t, r).Schema != report.Schema {
		t.Errorf("-f JSON --fail-on CRITICAL: exit %d %s", r.code, r.stderr)
	}
	// The directory is checked before the scan: the missing input is
	// never reached.
	r = peel(t, "scan", "-o", "json="+filepath.Join(dir, "no", "such", "r.json"), "missing.tar")
	if r.code != 2 || !strings.Contains(r.stderr, "no such directory") {
		t.Errorf("missing directory: exit %d %q", r.code, r.stderr)
	}
	if r := peel(t, "scan", "-o", "json="+dir, fx("sts-v1.tar")); r.code != 2 || !strings.Contains(r.stderr, "is a directory") {
		t.Errorf("a directory as output: exit %d %q", r.code, r.stderr)
	}
}

// TestBaselineRecipe runs the README's "record a baseline" commands as
// they are written, with IMAGE set: recording exits 0; a rescan of the
// same image against it exits 0; an image with one more secret exits 1.
func TestBaselineRecipe(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)record a baseline once and fail\nonly on what is new:\n\n```sh\n(.*?)```").FindSubmatch(readme)
	if block == nil {
		t.Fatal("README: no baseline recipe")
	}
	lines := strings.Split(strings.TrimSpace(string(block[1])), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "--baseline") {
		t.Fatalf("README recipe: %q", lines)
	}
	dir := t.TempDir()
	os.Symlink(peelBin, filepath.Join(dir, "peel"))
	sh := func(line, image string) run {
		t.Helper()
		cmd := exec.Command("sh", "-c", line)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "IMAGE="+image, "XDG_CACHE_HOME="+t.TempDir(), "PEEL_FINGERPRINT_KEY=")
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		r := run{stdout: out.String(), stderr: errb.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		}
		return r
	}
	if r := sh(lines[0], fx("sts-v1.tar")); r.code != 0 {
		t.Fatalf("%s: exit %d\n%s", lines[0], r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "peel-baseline.json")); err != nil {
		t.Fatal(err)
	}
	if r := sh(lines[1], fx("sts-v1.tar")); r.code != 0 || !strings.Contains(r.stdout, "4 in the baseline") {
		t.Errorf("%s, same image: exit %d\n%s", lines[1], r.code, r.stdout)
	}
	if r := sh(lines[1], fx("sts-v1-plus.tar")); r.code != 1 || !strings.Contains(r.stdout, "/opt/extra.env:1") {
		t.Errorf("%s, one more secret: exit %d\n%s", lines[1], r.code, r.stdout)
	}
}

// TestTableWidthOffTerminal: off a terminal the table has no colour, even
// without --no-color; COLUMNS fits it to a width.
func TestTableWidthOffTerminal(t *testing.T) {
	r := peel(t, "scan", fx("zoo.tar"))
	if strings.Contains(r.stdout, "\x1b[") {
		t.Error("colour off a terminal")
	}
	if !strings.Contains(r.stdout, "\n  /app/app.jar!BOOT-INF/classes/application.properties:2\n") {
		t.Errorf("a location is not whole on its line:\n%s", r.stdout)
	}
	for _, cols := range []int{80, 200} {
		r := peelEnv(t, []string{"COLUMNS=" + strconv.Itoa(cols)}, "", "scan", fx("zoo.tar"))
		for _, l := range strings.Split(r.stdout, "\n") {
			if twwidth.Width(l) > cols {
				t.Errorf("COLUMNS=%d: a %d-column line %q", cols, twwidth.Width(l), l)
			}
		}
		if wide := strings.Contains(r.stdout, "│ SEVERITY │"); wide != (cols >= report.WideTable) {
			t.Errorf("COLUMNS=%d: table layout %v", cols, wide)
		}
	}
}

// TestVersion: peel version and peel --version name peel, gitleaks, the
// rule count, the JSON schema and Go.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := peel(t, args...)
		for _, want := range []string{"peel ", "gitleaks     v8.30.1", "of gitleaks' catalogue", "JSON report  " + report.Schema, runtime.Version()} {
			if r.code != 0 || !strings.Contains(r.stdout, want) {
				t.Errorf("%v: lacks %q:\n%s", args, want, r.stdout)
			}
		}
		if !regexp.MustCompile(`rules +\d{3} \(\d+ of peel's own, 2\d\d of gitleaks' catalogue\)`).MatchString(r.stdout) {
			t.Errorf("%v: rule count:\n%s", args, r.stdout)
		}
	}
}

// TestCompletion: the shells' completion scripts are there, and the values
// of the enum flags complete.
func TestCompletion(t *testing.T) {
	if r := peel(t, "completion", "bash"); r.code != 0 || !strings.Contains(r.stdout, "bash completion") {
		t.Errorf("completion bash: exit %d", r.code)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"scan", "--fail-on", ""}, []string{"critical", "high", "medium", "low", "none"}},
		{[]string{"scan", "--format", ""}, []string{"json", "sarif", "table"}},
		{[]string{"scan", "--severity", "critical,"}, []string{"critical,high", "critical,medium", "critical,low"}},
		{[]string{"scan", "-o", ""}, []string{"json=", "sarif=", "table="}},
		{[]string{"scan", ""}, []string{"docker-archive:", "oci:", "dir:"}},
	} {
		r := peel(t, append([]string{"__complete"}, tc.args...)...)
		for _, w := range tc.want {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(w) + `$`).MatchString(r.stdout) {
				t.Errorf("%q: %q not offered:\n%s", tc.args, w, r.stdout)
			}
		}
	}
}

// TestDebug: --debug says which input was read how, which flags came from
// the environment (not their values), and what the layer cache did.
func TestDebug(t *testing.T) {
	cache := t.TempDir()
	peel(t, "scan", "--cache-dir", cache, fx("sts-v1.tar"))
	r := peelEnv(t, []string{"PEEL_FAIL_ON=critical"}, "", "--debug", "scan", "--cache-dir", cache, fx("sts-v1.tar"))
	for _, want := range []string{"peel: debug: flag set flag=--fail-on from=PEEL_FAIL_ON", "peel: debug: input arg=" + fx("sts-v1.tar") + " kind=docker-archive", "peel: debug: layer cache hit layer=1"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("--debug lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, fixture.Password) || strings.Contains(r.stderr, "=critical") {
		t.Errorf("--debug shows a value:\n%s", r.stderr)
	}
	if !strings.Contains(r.stdout, "all from the layer cache") || !strings.Contains(r.stdout, "All 5 layer(s) came from the layer cache") {
		t.Errorf("a warm scan does not say so:\n%s", r.stdout)
	}
}
