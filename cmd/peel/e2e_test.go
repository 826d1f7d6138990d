package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
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
		if out, err := exec.Command("go", "build", "-o", peelBin, ".").CombinedOutput(); err != nil {
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
	cmd := exec.Command(peelBin, args...)
	// No credentials or daemon of the machine's leak into the tests.
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "DOCKER_HOST=unix:///nonexistent/docker.sock")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := run{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running peel %v: %v", args, err)
	}
	return r
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
	if r.code != 1 || strings.Count(r.stdout, fixture.Password) != 4 {
		t.Errorf("exit %d; want the secret shown in all 4 findings\n%s", r.code, r.stdout)
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
		{[]string{"scan", "Not::A/Ref"}, "peel: Not::A/Ref: invalid image reference"},
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
	for _, want := range []string{"docker-archive:PATH", "oci-archive:PATH", "docker-daemon:", "dir:PATH", "--fail-on", "--show-secrets", "--platform", "Exit status"} {
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
