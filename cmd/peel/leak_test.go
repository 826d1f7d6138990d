package main

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/report"
)

// checkCacheForLeaks makes TestNothingSecretLeaks search the layer cache's
// bytes too. The cache keeps the secrets it found in plaintext until its
// entries are encrypted; turn this on then.
const checkCacheForLeaks = false

// writeArchive saves an image built by build as a docker save tar in dir.
func writeArchive(t *testing.T, dir, file string, build func() (v1.Image, error)) string {
	t.Helper()
	img, err := build()
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("peel/test:latest")
	p := filepath.Join(dir, file)
	if err := tarball.WriteToFile(p, tag, img); err != nil {
		t.Fatal(err)
	}
	return p
}

// secretsOf returns every secret a --show-secrets JSON report holds,
// suppressed findings included.
func secretsOf(t *testing.T, rep *report.Report) []string {
	t.Helper()
	seen := map[string]bool{}
	for _, img := range rep.Images {
		for _, f := range append(append([]report.Finding{}, img.Findings...), img.Suppressed...) {
			if f.Redacted {
				t.Fatalf("--show-secrets redacted %s", f.Location)
			}
			if f.Secret != "" {
				seen[f.Secret] = true
			}
		}
	}
	var out []string
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// forms are the ways a secret can stand in peel's output: as is, escaped
// in a JSON string, percent-encoded in a URI.
func forms(s string) []string {
	b, _ := json.Marshal(s)
	out := []string{s}
	for _, f := range []string{strings.Trim(string(b), `"`), url.QueryEscape(s), url.PathEscape(s)} {
		if !contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// filesUnder reads every regular file under dir, by path.
func filesUnder(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			b, rerr := os.ReadFile(p)
			if rerr != nil {
				t.Fatal(rerr)
			}
			out[p] = b
		}
		return nil
	})
	return out
}

// TestNothingSecretLeaks scans images whose secrets sit in every place a
// secret hides (the zoo; the book's v1; an image with a secret in each
// field of its config, one of them repeated in a build step where no rule
// reports it), takes every secret from a --show-secrets JSON run, then
// searches every byte peel writes without --show-secrets (stdout in each
// table layout, with the source around each finding; stderr with
// --debug; each -o report in each format; its temp directory; the output
// directory's temp files) for each of them: none may occur. With
// --show-secrets, every one must occur in every format.
func TestNothingSecretLeaks(t *testing.T) {
	dir := t.TempDir()
	inputs := map[string]struct {
		path    string
		planted []fixture.Planted
	}{
		"zoo":           {fx("zoo.tar"), fixture.ZooPlanted},
		"v1":            {fx("sts-v1.tar"), []fixture.Planted{{Secret: fixture.Password}}},
		"config-fields": {writeArchive(t, dir, "config-fields.tar", fixture.ConfigFields), fixture.ConfigFieldsPlanted},
	}
	for label, in := range inputs {
		t.Run(label, func(t *testing.T) {
			shown := peel(t, "scan", "--no-cache", "--show-secrets", "-f", "json", in.path)
			if shown.code != 1 {
				t.Fatalf("--show-secrets: exit %d\n%s", shown.code, shown.stderr)
			}
			secrets := secretsOf(t, decode(t, shown))
			for _, p := range in.planted {
				if !contains(secrets, p.Secret) {
					t.Errorf("planted secret %.6s… (%s) not reported", p.Secret, p.Location)
				}
			}
			if label == "config-fields" && !strings.Contains(shown.stdout, "echo "+fixture.ConfigFieldsRepeated) {
				t.Error("--show-secrets hid the repeated secret in the build step")
			}

			// The source excerpts hold the secrets they show (so that the
			// search below covers them): here, with --show-secrets.
			excerpts := 0
			for _, img := range decode(t, shown).Images {
				for _, f := range img.Findings {
					if f.Excerpt != nil {
						excerpts++
						if !strings.Contains(strings.Join(f.Excerpt.Lines, "\n"), f.Secret) {
							t.Errorf("%s: --show-secrets excerpt lacks the secret", f.Location)
						}
					}
				}
			}
			t.Logf("%d findings with a source excerpt", excerpts)
			if label != "config-fields" && excerpts == 0 {
				t.Error("no excerpts")
			}

			// Every output, with --show-secrets: every secret in each.
			for _, format := range []string{"table", "json", "sarif"} {
				r := peel(t, "scan", "--no-cache", "--show-secrets", "-f", format, in.path)
				for _, s := range secrets {
					if !strings.Contains(r.stdout, s) {
						t.Errorf("--show-secrets -f %s lacks %.6s…", format, s)
					}
				}
			}

			// Without it: nothing, anywhere peel writes.
			out, tmp, cache := filepath.Join(t.TempDir(), "out"), t.TempDir(), t.TempDir()
			os.Mkdir(out, 0o755)
			r := peelEnv(t, []string{"TMPDIR=" + tmp, "XDG_CACHE_HOME=" + cache}, "", "--debug", "scan", "--explain",
				"-o", "json="+filepath.Join(out, "r.json"), "-o", "sarif="+filepath.Join(out, "r.sarif"), "-o", "table="+filepath.Join(out, "r.txt"),
				in.path)
			if r.code != 1 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "peel: debug: ") {
				t.Error("no --debug output to search")
			}
			written := map[string][]byte{"stdout": []byte(r.stdout), "stderr with --debug": []byte(r.stderr)}
			// The table's other layouts, with the source of each finding.
			for _, cols := range []string{"80", "200"} {
				rc := peelEnv(t, []string{"COLUMNS=" + cols, "XDG_CACHE_HOME=" + cache}, "", "scan", "--explain", in.path)
				written["stdout at "+cols+" columns"] = []byte(rc.stdout)
			}
			if label != "config-fields" && !strings.Contains(r.stdout, " > ") {
				t.Error("no source excerpt in the table to search")
			}
			for p, b := range filesUnder(t, out) {
				written[filepath.Base(p)] = b
			}
			for p, b := range filesUnder(t, tmp) {
				written["TMPDIR "+p] = b
			}
			if len(written) != 7 {
				t.Errorf("want stdout (3 layouts), stderr and 3 reports, and nothing in TMPDIR or beside the reports; got %d outputs", len(written))
			}
			var names []string
			for n := range written {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				hits := 0
				for _, s := range secrets {
					for _, f := range forms(s) {
						if c := strings.Count(string(written[n]), f); c > 0 {
							hits += c
							t.Errorf("%s holds secret %.6s… (as %.12q) %d time(s)", n, s, f, c)
						}
					}
				}
				t.Logf("%s: %d bytes, %d occurrences of the %d secrets", n, len(written[n]), hits, len(secrets))
			}

			t.Run("cache", func(t *testing.T) {
				if !checkCacheForLeaks {
					t.Skip("the layer cache keeps found secrets in plaintext until its entries are encrypted (checkCacheForLeaks)")
				}
				for p, b := range filesUnder(t, cache) {
					for _, s := range secrets {
						for _, f := range forms(s) {
							if strings.Contains(string(b), f) {
								t.Errorf("cache file %s holds secret %.6s…", p, s)
							}
						}
					}
				}
			})
		})
	}
}
