package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/olekukonko/tablewriter/pkg/twwidth"

	"github.com/peelscan/peel/internal/fixture"
)

// These tests run peel in a real terminal: tmux, at a set size, its
// output piped raw to a file (every byte peel wrote, escape sequences
// and all) and its screen captured once peel is done.

// terminalRun is what a run in tmux left: the raw output, the screen
// (wrapped lines joined, so that a line that wrapped shows as one longer
// than the terminal) and the exit status.
type terminalRun struct {
	raw    string
	screen []string
	exit   string
}

var ansiSeq = regexp.MustCompile("\x1b\\[[0-9;?]*[A-Za-z]")

func needTmux(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is not installed (apt-get install tmux); the terminal tests need it")
		}
		t.Skip("tmux is not installed (apt-get install tmux): the terminal tests of package cmd/peel are skipped")
	}
	return p
}

// inTerminal runs peel ARGS in a tmux of cols columns, with env set.
func inTerminal(t *testing.T, cols int, env []string, args ...string) terminalRun {
	t.Helper()
	tmux := needTmux(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "tmux.sock")
	raw := filepath.Join(dir, "raw")
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	var script strings.Builder
	fmt.Fprintf(&script, "%s -S %s wait-for go\n", quote(tmux), quote(sock))
	fmt.Fprintf(&script, "unset NO_COLOR COLUMNS\nexport XDG_CACHE_HOME=%s DOCKER_CONFIG=%s PEEL_FINGERPRINT_KEY=\n", quote(t.TempDir()), quote(t.TempDir()))
	for _, e := range env {
		fmt.Fprintf(&script, "export %s\n", quote(e))
	}
	fmt.Fprintf(&script, "%s", quote(peelBin))
	for _, a := range args {
		fmt.Fprintf(&script, " %s", quote(a))
	}
	fmt.Fprintf(&script, "\necho \"exit=$?\"\n%s -S %s wait-for -S done\nsleep 600\n", quote(tmux), quote(sock))
	os.WriteFile(filepath.Join(dir, "run.sh"), []byte(script.String()), 0o700)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tm := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, tmux, append([]string{"-S", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	tm("-f", "/dev/null", "new-session", "-d", "-s", "peel", "-x", fmt.Sprint(cols), "-y", "60", "sh "+quote(filepath.Join(dir, "run.sh")))
	defer exec.Command(tmux, "-S", sock, "kill-server").Run()
	if w := strings.TrimSpace(tm("display-message", "-p", "-t", "peel", "#{pane_width}")); w != fmt.Sprint(cols) {
		t.Fatalf("the pane is %s columns wide, want %d", w, cols)
	}
	tm("pipe-pane", "-o", "-t", "peel", "cat >> "+quote(raw))
	tm("wait-for", "-S", "go")
	tm("wait-for", "done")
	time.Sleep(100 * time.Millisecond) // the pipe's last bytes
	screen := strings.Split(strings.TrimRight(tm("capture-pane", "-p", "-J", "-t", "peel", "-S", "-"), "\n"), "\n")
	b, _ := os.ReadFile(raw)
	r := terminalRun{raw: string(b), screen: screen}
	for _, l := range screen {
		if strings.HasPrefix(l, "exit=") {
			r.exit = strings.TrimPrefix(l, "exit=")
		}
	}
	return r
}

// progressFrames are the redraws of the progress line in raw output:
// what was written between a "\r" and the erase-line after it (or, as
// peel once did, right after the "\r"), and not ended by the "\r\n" the
// terminal writes for a line of the report.
func progressFrames(raw string) []string {
	var out []string
	segs := strings.Split(raw, "\r")
	for i, seg := range segs {
		endsLine := i+1 < len(segs) && strings.HasPrefix(segs[i+1], "\n")
		if endsLine || strings.Contains(seg, "\n") || !strings.HasSuffix(seg, "\x1b[K") && !strings.HasPrefix(seg, "\x1b[K") {
			continue
		}
		if f := strings.TrimSuffix(strings.TrimPrefix(seg, "\x1b[K"), "\x1b[K"); f != "" {
			out = append(out, f)
		}
	}
	return out
}

var severityColour = regexp.MustCompile("\x1b\\[(1;31|31|33|36)m")

var staleProgress = regexp.MustCompile(`\d+/\d+ layers|opening…|reading the image…|MiB/s|ETA \d| of \d+ files`)

// checkScreen: no line wider than the terminal (none wrapped), and no
// progress left on the screen: no line that looks like it, or that is the
// start of a frame (a row of a frame that wrapped).
func checkScreen(t *testing.T, r terminalRun, cols int) {
	t.Helper()
	frames := progressFrames(r.raw)
	for i, l := range r.screen {
		if w := twwidth.Width(l); w > cols {
			t.Errorf("screen line %d is %d columns, over %d (it wrapped): %q", i+1, w, cols, l)
		}
		if staleProgress.MatchString(l) {
			t.Errorf("screen line %d is left of the progress: %q", i+1, l)
			continue
		}
		l = strings.TrimRight(l, " ")
		for _, f := range frames {
			if f = ansiSeq.ReplaceAllString(f, ""); l != "" && strings.HasPrefix(f, l) {
				t.Errorf("screen line %d is left of the progress: %q", i+1, l)
				break
			}
		}
	}
}

// checkFrames: every frame fits one column short of the terminal, and
// there are some.
func checkFrames(t *testing.T, frames []string, cols int) {
	t.Helper()
	if len(frames) == 0 {
		t.Fatal("no progress drawn")
	}
	for _, f := range frames {
		if w := twwidth.Width(ansiSeq.ReplaceAllString(f, "")); w > cols-1 {
			t.Errorf("a %d-column frame on %d columns: %q", w, cols, f)
		}
	}
}

// slowRegistry serves images on 127.0.0.1, sending blobs at about
// 1.3 MiB/s each, so that a scan takes a few seconds to pull.
func slowRegistry(t *testing.T) string {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			w = &throttled{ResponseWriter: w}
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

type throttled struct{ http.ResponseWriter }

func (t *throttled) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := min(len(p), 32<<10)
		m, err := t.ResponseWriter.Write(p[:c])
		n += m
		if err != nil {
			return n, err
		}
		if f, ok := t.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		p = p[c:]
		time.Sleep(25 * time.Millisecond)
	}
	return n, nil
}

// slowImage is the book's v1 with three layers of 1.5 MiB of random
// bytes on top, pushed to a slow registry; it returns the reference and
// the total of the layers' sizes as the manifest gives them.
func slowImage(t *testing.T) (string, int64) {
	t.Helper()
	img, err := fixture.STSv1()
	if err != nil {
		t.Fatal(err)
	}
	noise, err := random.Image(1536<<10, 3)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := noise.Layers()
	img, err = mutate.AppendLayers(img, ls...)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(slowRegistry(t) + "/slow/a-repository-name-long-enough-to-need-cutting/app:1")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	all, _ := img.Layers()
	var total int64
	for _, l := range all {
		n, _ := l.Size()
		total += n
	}
	return ref.String(), total
}

// TestProgressInTerminal pulls an 8-layer image from a slow registry in
// an 80- and a 200-column terminal: the line is drawn from the start
// ("opening…"), every frame fits one column short of the terminal, the
// total of the manifest is there from the first frame that counts layers
// to the last (which has every layer and byte), and once peel is done the
// screen holds the report, fitted to the width, and nothing of the
// progress.
func TestProgressInTerminal(t *testing.T) {
	needTmux(t)
	ref, total := slowImage(t)
	for _, cols := range []int{80, 200} {
		t.Run(fmt.Sprint(cols), func(t *testing.T) {
			r := inTerminal(t, cols, nil, "scan", "--no-cache", ref)
			if r.exit != "1" {
				t.Fatalf("exit %q\n%s", r.exit, strings.Join(r.screen, "\n"))
			}
			frames := progressFrames(r.raw)
			checkFrames(t, frames, cols)
			checkScreen(t, r, cols)
			if !strings.Contains(frames[0], "opening…") {
				t.Errorf("first frame %q", frames[0])
			}
			counting, last := 0, ""
			for _, f := range frames {
				if !strings.Contains(f, "/8 layers") {
					continue
				}
				counting++
				last = f
				if !strings.Contains(f, " of "+mib(total)) {
					t.Errorf("a frame without the manifest's total %s: %q", mib(total), f)
				}
			}
			if counting < 3 || !strings.Contains(last, "8/8 layers  "+mib(total)+" of "+mib(total)+"  100%") {
				t.Errorf("%d frames counting layers, the last %q", counting, last)
			}
			t.Logf("%d frames, e.g. %q", len(frames), frames[len(frames)/2])
			screen := strings.Join(r.screen, "\n")
			layout := "│ SEVERITY │"
			if cols < 120 {
				layout = "CRITICAL config-secret: Plaintext secret in configuration"
			}
			if !strings.Contains(screen, layout) || !strings.Contains(screen, "4 finding(s) in 1 image(s)") {
				t.Errorf("the report is not on the screen in its %d-column layout:\n%s", cols, screen)
			}
			if !strings.Contains(r.raw, "\x1b[1;31m") {
				t.Error("no colour on a terminal")
			}
		})
	}
}

// TestProgressOtherSources: a docker save archive and a directory show
// progress too, each ending with its totals; colour goes with
// --no-color or NO_COLOR; nothing is left on the screen.
func TestProgressOtherSources(t *testing.T) {
	needTmux(t)
	dir := t.TempDir()
	img, err := random.Image(4<<20, 3)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "noise.tar")
	tag, _ := name.NewTag("peel/noise:1")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	files := filepath.Join(dir, "files")
	os.MkdirAll(filepath.Join(files, "conf"), 0o755)
	for i := range 50 {
		os.WriteFile(filepath.Join(files, fmt.Sprintf("f%02d.txt", i)), []byte(strings.Repeat("x", 1000)), 0o644)
	}
	os.WriteFile(filepath.Join(files, "conf", "app.properties"), []byte("db.password=Tq4-terminal-pw\n"), 0o644)

	for _, tc := range []struct {
		cols      int
		env, args []string
		last      *regexp.Regexp
		colour    bool
	}{
		{80, nil, []string{"scan", "--no-cache", archive}, regexp.MustCompile(`noise\.tar  3/3 layers  (12\.\d MiB) of (12\.\d MiB)  100%`), false},
		{80, nil, []string{"scan", "--no-cache", "--no-color", "dir:" + files}, regexp.MustCompile(`  51 files, 4\d\.\d KiB  of 51 files, 4\d\.\d KiB  100%`), false},
		{200, []string{"NO_COLOR=1"}, []string{"scan", "--no-cache", "dir:" + files}, regexp.MustCompile(`  51 files, 4\d\.\d KiB  of 51 files, 4\d\.\d KiB  100%`), false},
		{200, nil, []string{"scan", "--no-cache", "dir:" + files}, regexp.MustCompile(`  51 files`), true},
	} {
		t.Run(fmt.Sprint(tc.cols, tc.env, tc.args[len(tc.args)-2:]), func(t *testing.T) {
			r := inTerminal(t, tc.cols, tc.env, tc.args...)
			frames := progressFrames(r.raw)
			checkFrames(t, frames, tc.cols)
			checkScreen(t, r, tc.cols)
			if !tc.last.MatchString(frames[len(frames)-1]) {
				t.Errorf("last frame %q, want %s", frames[len(frames)-1], tc.last)
			}
			if colour := severityColour.MatchString(r.raw); colour != tc.colour {
				t.Errorf("colour %v, want %v", colour, tc.colour)
			}
		})
	}
}
