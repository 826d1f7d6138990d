package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/peelscan/peel/internal/fixture"
)

// rotatedImage is an image whose password, in a properties file and in
// the config's Env, is value: two of them differ in the password alone.
func rotatedImage(value string) func() (v1.Image, error) {
	return fixture.Image{
		Layers: []fixture.Layer{{
			Tar:       fixture.Tar(fixture.File{Name: "app/application.properties", Data: []byte("db.url=jdbc:postgresql://db/app\ndb.password=" + value + "\n")}),
			CreatedBy: "/bin/sh -c #(nop) COPY file:app-config in /app/ ",
		}},
		Env: []string{"DB_PASSWORD=" + value},
	}.Build
}

// TestFingerprintsAndRotatedSecrets: two images that differ only in a
// password's value give the same redacted findings, fingerprints
// included, by default; with a fingerprint key the fingerprints differ,
// are stable from run to run, and differ from those of another key.
func TestFingerprintsAndRotatedSecrets(t *testing.T) {
	dir := t.TempDir()
	before := writeArchive(t, dir, "before.tar", rotatedImage("rotated-pw-2025-a1b2c3"))
	after := writeArchive(t, dir, "after.tar", rotatedImage("rotated-pw-2026-d4e5f6"))
	key := []string{"PEEL_FINGERPRINT_KEY=team-fingerprint-key-0123456789"}
	scan := func(env []string, input string) []string {
		t.Helper()
		r := peelEnv(t, env, "", "scan", "-f", "json", input)
		if r.code != 1 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		rep := decode(t, r)
		var fps []string
		for _, f := range rep.Images[0].Findings {
			fps = append(fps, f.Fingerprint)
		}
		if len(fps) != 2 {
			t.Fatalf("%d findings, want 2 (the file and Env)", len(fps))
		}
		return fps
	}

	a, b := decode(t, peel(t, "scan", "-f", "json", before)), decode(t, peel(t, "scan", "-f", "json", after))
	if a.Fingerprints.Mode != "location" || !reflect.DeepEqual(a.Images[0].Findings, b.Images[0].Findings) {
		t.Errorf("by location (%s), the redacted findings differ:\n%+v\n%+v", a.Fingerprints.Mode, a.Images[0].Findings, b.Images[0].Findings)
	}

	ka, kb := scan(key, before), scan(key, after)
	for i := range ka {
		if ka[i] == kb[i] {
			t.Errorf("keyed: finding %d keeps its fingerprint %s though its value changed", i, ka[i])
		}
	}
	if again := scan(key, before); !reflect.DeepEqual(again, ka) {
		t.Errorf("keyed fingerprints changed between runs: %v, %v", ka, again)
	}
	if other := scan([]string{"PEEL_FINGERPRINT_KEY=another-key-of-the-team-987654"}, before); reflect.DeepEqual(other, ka) {
		t.Error("another key makes the same fingerprints")
	}
	if plain := scan(nil, before); reflect.DeepEqual(plain, ka) {
		t.Error("keyed and by-location fingerprints agree")
	}

	// --fingerprint-key-env names another variable; the key never shows.
	r := peelEnv(t, []string{"CI_FP_KEY=team-fingerprint-key-0123456789"}, "", "scan", "-f", "json", "--fingerprint-key-env", "CI_FP_KEY", before)
	if rep := decode(t, r); rep.Fingerprints.Mode != "keyed" || rep.Images[0].Findings[0].Fingerprint != ka[0] || strings.Contains(r.stdout+r.stderr, "team-fingerprint-key") {
		t.Errorf("--fingerprint-key-env CI_FP_KEY: %+v", rep.Fingerprints)
	}
	for _, tc := range []struct {
		env  []string
		args []string
		msg  string
	}{
		{nil, []string{"--fingerprint-key-env", "CI_FP_KEY"}, "peel: bad flag: --fingerprint-key-env CI_FP_KEY: the variable is not set or empty"},
		{[]string{"PEEL_FINGERPRINT_KEY=short"}, nil, "peel: bad flag: --fingerprint-key-env PEEL_FINGERPRINT_KEY: the key has 5 bytes; use at least 16"},
	} {
		r := peelEnv(t, tc.env, "", append(append([]string{"scan"}, tc.args...), before)...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, tc.msg) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v %v: exit %d %q, want %q", tc.env, tc.args, r.code, r.stderr, tc.msg)
		}
	}
}

// TestBaselineOfAnotherKind: a baseline of the old schema, or made with
// another fingerprint mode, is refused with what to do; keyed baselines
// work with their key, and tell a rotated password from the known one.
func TestBaselineOfAnotherKind(t *testing.T) {
	dir := t.TempDir()
	before := writeArchive(t, dir, "before.tar", rotatedImage("rotated-pw-2025-a1b2c3"))
	after := writeArchive(t, dir, "after.tar", rotatedImage("rotated-pw-2026-d4e5f6"))
	old := filepath.Join(dir, "old.json")
	os.WriteFile(old, []byte(`{"schema": "peel-report/v1", "images": [{"findings": [{"fingerprint": "96518204eaae1b319889651a170eae38"}]}]}`), 0o644)
	r := peel(t, "scan", "--baseline", old, before)
	if r.code != 2 || !strings.Contains(r.stderr, old+": a peel-report/v1 report, whose fingerprints hash the secret itself") || !strings.Contains(r.stderr, "regenerate the baseline") {
		t.Errorf("old baseline: exit %d %q", r.code, r.stderr)
	}

	key := []string{"PEEL_FINGERPRINT_KEY=team-fingerprint-key-0123456789"}
	keyed := filepath.Join(dir, "keyed.json")
	if r := peelEnv(t, key, "", "scan", "-q", "-o", "json="+keyed, before); r.code != 1 {
		t.Fatalf("keyed baseline: exit %d %s", r.code, r.stderr)
	}
	if r := peel(t, "scan", "--baseline", keyed, before); r.code != 2 || !strings.Contains(r.stderr, "made with a fingerprint key") {
		t.Errorf("keyed baseline without the key: exit %d %q", r.code, r.stderr)
	}
	if r := peelEnv(t, key, "", "scan", "--baseline", keyed, before); r.code != 0 || !strings.Contains(r.stdout, "2 in the baseline") {
		t.Errorf("keyed baseline, same image: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := peelEnv(t, key, "", "scan", "--baseline", keyed, after); r.code != 1 {
		t.Errorf("keyed baseline, rotated password: exit %d, want 1 (a new value)", r.code)
	}

	// By location, the rotated password is the known finding.
	plain := filepath.Join(dir, "plain.json")
	peel(t, "scan", "-q", "-o", "json="+plain, before)
	if r := peel(t, "scan", "--baseline", plain, after); r.code != 0 {
		t.Errorf("baseline by location, rotated password: exit %d, want 0", r.code)
	}
	if r := peelEnv(t, key, "", "scan", "--baseline", plain, after); r.code != 2 || !strings.Contains(r.stderr, "made without a fingerprint key and this scan has one") {
		t.Errorf("baseline by location with a key: exit %d %q", r.code, r.stderr)
	}
}
