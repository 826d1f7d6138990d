package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/report"
)

// These tests run the built binary, as a user or a CI job would.

var (
	peelBin  string // the binary under test
	fixtures string // fixture.WriteAll output
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "peel-e2e-")
	if err != nil {
		log.Fatal(err)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		peelBin = filepath.Join(dir, "peel")
		if bin := os.Getenv("PEEL_TEST_BINARY"); bin != "" {
			peelBin = bin // another build under the same tests (an older one, to see a test fail)
		} else if out, err := exec.Command("go", "build", "-o", peelBin, ".").CombinedOutput(); err != nil {
			log.Printf("building peel: %v\n%s", err, out)
			return 1
		}
		fixtures = filepath.Join(dir, "fixtures")
		if err := fixture.WriteAll(fixtures); err != nil {
			log.Printf("writing fixtures: %v", err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

type run struct {
	code           int
	stdout, stderr string
}

func peel(t *testing.T, args ...string) run {
	t.Helper()
	return peelEnv(t, nil, "", args...)
}

func fx(name string) string { return filepath.Join(fixtures, name) }

func decode(t *testing.T, r run) *report.Report {
	t.Helper()
	var rep report.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("decoding JSON report: %v\n%s", err, r.stdout)
	}
	return &rep
}

const propsLoc = "/" + fixture.JarName + "!" + fixture.PropertiesPath

func TestV1FailsWithTheBooksFindings(t *testing.T) {
	for _, input := range []string{fx("sts-v1.tar"), "docker-archive:" + fx("sts-v1.tar"), fx("sts-v1-oci"), "oci:" + fx("sts-v1-oci")} {
		r := peel(t, "scan", input)
		if r.code != 1 {
			t.Fatalf("%s: exit %d, want 1\n%s%s", input, r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{
			propsLoc + ":3", propsLoc + ":6", "/opt/keystore.jks", "/opt/jwt.jks",
			"private keys: spring", "private keys: jwtkey", "keystore-verified", "sp…", "SPRING_CONFIG_LOCATION",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%s: table lacks %q\n%s", input, want, r.stdout)
			}
		}
		if strings.Contains(r.stdout+r.stderr, fixture.Password) {
			t.Errorf("%s: the secret appears unredacted", input)
		}
	}
}

func TestV1JSON(t *testing.T) {
	r := peel(t, "scan", "--format", "json", fx("sts-v1.tar"))
	if r.code != 1 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	rep := decode(t, r)
	if rep.Schema != report.Schema || len(rep.Images) != 1 {
		t.Fatalf("schema %q, %d images", rep.Schema, len(rep.Images))
	}
	type brief struct {
		Rule, Location, VerifiedBy string
		Layer                      int
		Aliases                    []string
	}
	var got []brief
	for _, f := range rep.Images[0].Findings {
		got = append(got, brief{f.Rule, f.Location, f.VerifiedBy, f.Layer, f.Aliases})
		if !f.Redacted || f.Secret != "sp…" || !f.Verified || f.Severity.String() != "critical" || f.Remediation == "" || len(f.Fingerprint) != 32 {
			t.Errorf("finding %s: %+v", f.Location, f)
		}
		if f.Layer > 0 && !strings.Contains(f.CreatedBy, "ADD file:") {
			t.Errorf("finding %s: created_by %q", f.Location, f.CreatedBy)
		}
	}
	want := []brief{
		{"config-secret", propsLoc + ":3", "", 3, nil},
		{"config-secret", propsLoc + ":6", "", 3, nil},
		{"keystore-verified", "/opt/keystore.jks", propsLoc + ":3", 4, []string{"spring"}},
		{"keystore-verified", "/opt/jwt.jks", propsLoc + ":6", 5, []string{"jwtkey"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findings:\n got  %+v\n want %+v", got, want)
	}
	if s := rep.Summary; s.Findings != 4 || s.BySeverity["critical"] != 4 {
		t.Errorf("summary %+v", s)
	}
}

func TestShowSecrets(t *testing.T) {
	r := peel(t, "scan", "--show-secrets", fx("sts-v1.tar"))
	// In the 4 findings, and in the source of the 2 in a text file.
	if r.code != 1 || strings.Count(r.stdout, fixture.Password) != 6 {
		t.Errorf("exit %d; want the secret shown in all 4 findings and the source of 2\n%s", r.code, r.stdout)
	}
}

func TestV2Passes(t *testing.T) {
	for _, input := range []string{fx("sts-v2.tar"), fx("sts-v2-oci")} {
		r := peel(t, "scan", input)
		if r.code != 0 || !strings.Contains(r.stdout, "No secrets found.") {
			t.Errorf("%s: exit %d, want 0 and no findings\n%s%s", input, r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout, "cacerts") {
			t.Errorf("%s: the JDK trust store was reported", input)
		}
	}
}

func TestHostConfig(t *testing.T) {
	r := peel(t, "scan", "dir:"+fx("config-10.2.1"))
	if r.code != 1 || !strings.Contains(r.stdout, "application.properties:3") || !strings.Contains(r.stdout, "application.properties:6") {
		t.Errorf("10.2.1: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = peel(t, "scan", "dir:"+fx("config-10.2.2"))
	if r.code != 0 {
		t.Errorf("10.2.2: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestFailOn(t *testing.T) {
	// The 10.2.1 config's passwords are high (no keystore beside them to
	// prove them critical).
	for flag, want := range map[string]int{"critical": 0, "high": 1, "low": 1, "none": 0} {
		if r := peel(t, "scan", "--fail-on", flag, "dir:"+fx("config-10.2.1")); r.code != want {
			t.Errorf("--fail-on %s: exit %d, want %d", flag, r.code, want)
		}
	}
}

// TestRegistry serves v1 and v2 from go-containerregistry's registry on
// 127.0.0.1 and expects the same findings as from the docker-archive.
func TestRegistry(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	for tag, build := range map[string]func() (v1.Image, error){"v1": fixture.STSv1, "v2": fixture.STSv2} {
		img, err := build()
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.ParseReference(host + "/" + fixture.ImageRepo + ":" + tag)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		fromRegistry := peel(t, "scan", "--format", "json", ref.String())
		fromArchive := peel(t, "scan", "--format", "json", fx("sts-"+tag+".tar"))
		if fromRegistry.code != fromArchive.code {
			t.Errorf("%s: registry exit %d, archive exit %d\n%s", tag, fromRegistry.code, fromArchive.code, fromRegistry.stderr)
			continue
		}
		a, b := decode(t, fromRegistry).Images[0], decode(t, fromArchive).Images[0]
		if a.Kind != "registry" || !strings.HasPrefix(a.Digest, "sha256:") {
			t.Errorf("%s: kind %q digest %q", tag, a.Kind, a.Digest)
		}
		if !reflect.DeepEqual(a.Findings, b.Findings) || !reflect.DeepEqual(a.Layers, b.Layers) {
			t.Errorf("%s: registry and archive differ:\n%+v\n%+v", tag, a.Findings, b.Findings)
		}
	}
}

func TestErrorsExit2WithOneLine(t *testing.T) {
	notImage := filepath.Join(t.TempDir(), "files.tar")
	if out, err := exec.Command("tar", "cf", notImage, "-C", "../../testdata", "keytool").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"scan", "Not::A/Ref"}, "peel: Not::A/Ref: no such file or image (not a local path, nor a valid image reference)"},
		{[]string{"scan", "Prabath/Insecure-STS-CH10:v1"}, "peel: Prabath/Insecure-STS-CH10:v1: invalid image reference: an image name must be lowercase (prabath/insecure-sts-ch10:v1)"},
		{[]string{"scan", "http://127.0.0.1:5000/app:1"}, "peel: http://127.0.0.1:5000/app:1: invalid image reference: a reference has no URL scheme (127.0.0.1:5000/app:1); for plain HTTP, add --insecure-registry 127.0.0.1:5000"},
		{[]string{"scan", "-o", "yaml=x.yaml", "missing.tar"}, `peel: bad flag: --output "yaml=x.yaml": unknown format "yaml"`},
		{[]string{"scan", "-o", "/nonexistent/dir/x.json", "missing.tar"}, "peel: bad flag: --output: /nonexistent/dir/x.json: no such directory /nonexistent/dir"},
		{[]string{"scan", "--severity", "severe", fx("sts-v1.tar")}, `peel: bad flag: --severity: unknown severity "severe"`},
		{[]string{"scan", "--exit-code", "2", fx("sts-v1.tar")}, "peel: bad flag: --exit-code 2: want 0 to 125"},
		{[]string{"scan", "missing.tar"}, "peel: missing.tar: no such file or directory"},
		{[]string{"scan", notImage}, "peel: " + notImage + ": not a container image"},
		{[]string{"scan", "docker-daemon:foo:latest"}, "peel: docker-daemon:foo:latest: cannot read the image from the Docker daemon"},
		{[]string{"scan", "--fail-on", "severe", fx("sts-v1.tar")}, "peel: bad flag: --fail-on"},
		{[]string{"scan", "--format", "xml", fx("sts-v1.tar")}, "peel: bad flag: --format"},
		{[]string{"scan", "--platform", "amd64", fx("sts-v1.tar")}, "peel: bad flag: --platform"},
		{[]string{"scan", "--no-such-flag", fx("sts-v1.tar")}, "peel: bad flag: unknown flag"},
		{[]string{"scan"}, "peel: requires at least 1 arg"},
	} {
		r := peel(t, tc.args...)
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2", tc.args, r.code)
		}
		if !strings.HasPrefix(r.stderr, tc.msg) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: stderr %q, want one line starting %q", tc.args, r.stderr, tc.msg)
		}
		if r.stdout != "" {
			t.Errorf("%v: wrote a report on error: %q", tc.args, r.stdout)
		}
	}
}

func TestVersionAndHelp(t *testing.T) {
	if r := peel(t, "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "peel ") {
		t.Errorf("version: %+v", r)
	}
	r := peel(t, "scan", "--help")
	for _, want := range []string{"docker-archive:PATH", "oci-archive:PATH", "docker-daemon:", "dir:PATH", "--fail-on", "--show-secrets", "--platform", "--timeout", "--fingerprint-key-env", "--allow-foreign-layers", "130 interrupted", "Exit status", "--severity", "--exit-code", "--skip-files", "--skip-dirs", "--no-color", "--debug", "--config-file", "PEEL_<FLAG>"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("scan --help lacks %q", want)
		}
	}
}

func TestZooAndCustomConfig(t *testing.T) {
	zoo := fx("zoo.tar")
	r := peel(t, "scan", "--format", "json", zoo)
	if r.code != 1 {
		t.Fatalf("zoo: exit %d\n%s", r.code, r.stderr)
	}
	rep := decode(t, r)
	if n := len(rep.Images[0].Findings); n != len(fixture.ZooPlanted) {
		t.Errorf("zoo: %d findings, want %d", n, len(fixture.ZooPlanted))
	}
	for _, f := range rep.Images[0].Findings {
		if f.Title == "" || f.Remediation == "" {
			t.Errorf("%s %s: no title or remediation", f.Rule, f.Location)
		}
		if f.Rule == "gitleaks.acme-internal-token" {
			t.Error("the custom rule fired without --config")
		}
	}
	r = peel(t, "scan", "--format", "json", "--config", fx("zoo-gitleaks.toml"), zoo)
	found := false
	for _, f := range decode(t, r).Images[0].Findings {
		if f.Rule == "gitleaks.acme-internal-token" && f.Location == fixture.ZooCustomPlanted.Location && f.Severity.String() == "high" {
			found = true
		}
	}
	if !found {
		t.Errorf("--config: the custom rule did not fire at %s", fixture.ZooCustomPlanted.Location)
	}
	r = peel(t, "scan", "--config", filepath.Join(t.TempDir(), "none.toml"), zoo)
	if r.code != 2 || !strings.HasPrefix(r.stderr, "peel: bad flag: --config") {
		t.Errorf("missing --config file: exit %d %q", r.code, r.stderr)
	}
	// --explain lists what was dismissed, with reasons.
	r = peel(t, "scan", "--explain", zoo)
	for _, want := range []string{"dismissed: /usr/lib/jvm/java-1.8-openjdk/jre/lib/security/cacerts: JKS trust store", "test resource of the dependency acme-client-1.0.jar", "placeholder"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--explain lacks %q", want)
		}
	}
	// No planted secret leaks without --show-secrets.
	for _, p := range fixture.ZooPlanted {
		if len(p.Secret) > 6 && strings.Contains(r.stdout+r.stderr, p.Secret) {
			t.Errorf("secret of %s appears unredacted", p.Location)
		}
	}
}

func TestOutputs(t *testing.T) {
	dir := t.TempDir()
	sarifFile, jsonFile := filepath.Join(dir, "peel.sarif"), filepath.Join(dir, "peel.json")
	// SARIF and JSON to files, the table on stdout.
	r := peel(t, "scan", "-o", "sarif="+sarifFile, "-o", "json="+jsonFile, fx("sts-v1.tar"))
	if r.code != 1 || !strings.Contains(r.stdout, "keystore-verified") {
		t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
	}
	var log map[string]any
	b, _ := os.ReadFile(sarifFile)
	if err := json.Unmarshal(b, &log); err != nil || log["version"] != "2.1.0" {
		t.Errorf("SARIF file: %v", err)
	}
	b, _ = os.ReadFile(jsonFile)
	if !strings.Contains(string(b), report.Schema) {
		t.Error("JSON file lacks the schema")
	}
	// A plain -o FILE takes the report off stdout; the summary goes to stderr.
	r = peel(t, "scan", "-f", "json", "-o", jsonFile, fx("sts-v2.tar"))
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "0 finding(s) in 1 image(s)") {
		t.Errorf("-o FILE: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	// A failed scan writes nothing and leaves an earlier report intact.
	before, _ := os.ReadFile(jsonFile)
	r = peel(t, "scan", "-o", "json="+jsonFile, "-o", "sarif="+filepath.Join(dir, "new.sarif"), fx("sts-v1.tar"), "missing.tar")
	after, _ := os.ReadFile(jsonFile)
	if r.code != 2 || !bytes.Equal(before, after) {
		t.Errorf("failed scan: exit %d, report changed: %v", r.code, !bytes.Equal(before, after))
	}
	if _, err := os.Stat(filepath.Join(dir, "new.sarif")); err == nil {
		t.Error("a failed scan wrote a report")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("files left in the output directory: %d", len(entries))
	}
	for _, bad := range [][]string{{"-o", "json="}, {"-o", "a.json", "-o", "a.json"}} {
		if r := peel(t, append(append([]string{"scan"}, bad...), fx("sts-v2.tar"))...); r.code != 2 {
			t.Errorf("%v: exit %d", bad, r.code)
		}
	}
}

// TestBaseline is the "only new secrets fail the build" flow: a v1 report
// as baseline lets a rescan of v1 pass, and a v1 rebuilt with one more
// secret fails on that one alone.
func TestBaseline(t *testing.T) {
	base := filepath.Join(t.TempDir(), "baseline.json")
	if r := peel(t, "scan", "-o", "json="+base, "-q", fx("sts-v1.tar")); r.code != 1 {
		t.Fatalf("making the baseline: exit %d", r.code)
	}
	r := peel(t, "scan", "--baseline", base, fx("sts-v1.tar"))
	if r.code != 0 || !strings.Contains(r.stdout, "4 in the baseline") {
		t.Errorf("v1 against its baseline: exit %d\n%s", r.code, r.stdout)
	}
	r = peel(t, "scan", "--baseline", base, "--format", "json", fx("sts-v1-plus.tar"))
	if r.code != 1 {
		t.Fatalf("v1-plus: exit %d", r.code)
	}
	fs := decode(t, r).Images[0].Findings
	if len(fs) != 1 || fs[0].Location != "/opt/extra.env:1" {
		t.Errorf("v1-plus findings: %+v", fs)
	}
	if r := peel(t, "scan", "--baseline", fx("zoo-gitleaks.toml"), fx("sts-v1.tar")); r.code != 2 || !strings.Contains(r.stderr, "not a peel JSON report") {
		t.Errorf("bad baseline: exit %d %q", r.code, r.stderr)
	}
}

// TestIgnoreFile: an entry silences exactly its finding, and the reason is
// recorded in JSON and SARIF.
func TestIgnoreFile(t *testing.T) {
	dir := t.TempDir()
	r := peel(t, "scan", "--format", "json", fx("sts-v1.tar"))
	fs := decode(t, r).Images[0].Findings
	var jwt report.Finding
	for _, f := range fs {
		if f.Location == "/opt/jwt.jks" {
			jwt = f
		}
	}
	ignore := filepath.Join(dir, "peelignore")
	os.WriteFile(ignore, []byte("# accepted risks\n"+jwt.Fingerprint+"  # test keystore, rotated on deploy (TICKET-1)\n/usr/share/doc/**\n"), 0o644)
	sarifFile := filepath.Join(dir, "out.sarif")
	r = peel(t, "scan", "--ignore-file", ignore, "--format", "json", "-o", "sarif="+sarifFile, "-o", "-", fx("sts-v1.tar"))
	img := decode(t, r).Images[0]
	if len(img.Findings) != 3 || len(img.Suppressed) != 1 || img.Suppressed[0].Location != "/opt/jwt.jks" {
		t.Fatalf("findings %d, suppressed %+v", len(img.Findings), img.Suppressed)
	}
	if s := img.Suppressed[0].Suppression; s.Kind != "ignore-file" || s.Reason != "test keystore, rotated on deploy (TICKET-1)" {
		t.Errorf("suppression %+v", s)
	}
	b, _ := os.ReadFile(sarifFile)
	if !strings.Contains(string(b), `"justification": "`+ignore+`:2: `+jwt.Fingerprint+`: test keystore, rotated on deploy (TICKET-1)"`) {
		t.Errorf("SARIF lacks the suppression:\n%s", b)
	}
	// .peelignore in the working directory is read by default.
	os.WriteFile(filepath.Join(dir, ".peelignore"), []byte("/opt/*.jks\n"), 0o644)
	cmd := exec.Command(peelBin, "scan", "--format", "json", fx("sts-v1.tar"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir())
	out, _ := cmd.Output()
	var rep report.Report
	json.Unmarshal(out, &rep)
	if len(rep.Images) != 1 || len(rep.Images[0].Findings) != 2 {
		t.Errorf(".peelignore in the working directory was not applied: %s", out)
	}
}

// TestNoSecretInAnyOutput scans every fixture into every format and checks
// that no planted secret appears, then that --show-secrets shows them.
func TestNoSecretInAnyOutput(t *testing.T) {
	dir := t.TempDir()
	secrets := []string{fixture.Password, fixture.ExtraToken}
	for _, p := range fixture.ZooPlanted {
		if len(p.Secret) > 8 {
			secrets = append(secrets, p.Secret)
		}
	}
	for _, input := range []string{fx("sts-v1.tar"), fx("zoo.tar"), fx("sts-v1-plus.tar")} {
		args := []string{"scan", "--explain", "-o", "json=" + filepath.Join(dir, "r.json"), "-o", "sarif=" + filepath.Join(dir, "r.sarif"), input}
		r := peel(t, args...)
		all := r.stdout + r.stderr
		for _, f := range []string{"r.json", "r.sarif"} {
			b, _ := os.ReadFile(filepath.Join(dir, f))
			all += string(b)
		}
		for _, s := range secrets {
			if strings.Contains(all, s) {
				t.Errorf("%s: secret %.4s… appears in the output", filepath.Base(input), s)
			}
		}
	}
	r := peel(t, "scan", "--show-secrets", "-f", "sarif", fx("zoo.tar"))
	if !strings.Contains(r.stdout, "zoo-jceks-pw") {
		t.Error("--show-secrets did not show the secret in SARIF")
	}
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func TestLayerCache(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "cache")
	cold := peel(t, "scan", "-f", "json", "--cache-dir", cache, fx("sts-v1.tar"))
	warm := peel(t, "scan", "-f", "json", "--cache-dir", cache, fx("sts-v1.tar"))
	a, b := decode(t, cold), decode(t, warm)
	if cold.code != 1 || warm.code != 1 || a.Summary.CachedLayers != 0 || b.Summary.CachedLayers != 5 {
		t.Fatalf("exit %d/%d, cached layers %d then %d", cold.code, warm.code, a.Summary.CachedLayers, b.Summary.CachedLayers)
	}
	if !reflect.DeepEqual(a.Images[0].Findings, b.Images[0].Findings) {
		t.Errorf("cached findings differ:\n%+v\n%+v", a.Images[0].Findings, b.Images[0].Findings)
	}
	// The base layers are shared with v2: its scan reuses them.
	if v2 := decode(t, peel(t, "scan", "-f", "json", "--cache-dir", cache, fx("sts-v2.tar"))); v2.Summary.CachedLayers != 2 {
		t.Errorf("v2 reused %d layers, want the 2 base layers", v2.Summary.CachedLayers)
	}
	// Other options or rules are other keys.
	if r := decode(t, peel(t, "scan", "-f", "json", "--cache-dir", cache, "--max-depth", "3", fx("sts-v1.tar"))); r.Summary.CachedLayers != 0 {
		t.Errorf("--max-depth 3 used results cached under --max-depth 8")
	}
	if r := decode(t, peel(t, "scan", "-f", "json", "--cache-dir", cache, "--no-cache", fx("sts-v1.tar"))); r.Summary.CachedLayers != 0 {
		t.Error("--no-cache read the cache")
	}
	st, err := os.Stat(cache)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("cache directory mode %v (%v), want 0700", st.Mode().Perm(), err)
	}
}
