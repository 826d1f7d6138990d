package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peelscan/peel/report"
)

// TestReportOntoDeviceAndFIFO: -o json=PATH where PATH is a character
// device or a FIFO (made in a temp dir): the node is still that node after
// the scan, nothing is left beside it, and the FIFO's reader receives the
// whole report.
func TestReportOntoDeviceAndFIFO(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mknod needs root")
	}
	dir := t.TempDir()
	null := filepath.Join(dir, "null")
	if err := syscall.Mknod(null, syscall.S_IFCHR|0o666, 1<<8|3); err != nil { // 1:3, as /dev/null
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		f, err := os.Open(fifo) // waits for peel to open it
		if err != nil {
			got <- nil
			return
		}
		b, _ := io.ReadAll(f)
		f.Close()
		got <- b
	}()
	r := peel(t, "scan", "-q", "-o", "json="+null, "-o", "sarif="+fifo, fx("sts-v1.tar"))
	if r.code != 1 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if st, err := os.Lstat(null); err != nil || st.Mode()&os.ModeCharDevice == 0 || st.Sys().(*syscall.Stat_t).Rdev != 1<<8|3 {
		t.Errorf("the device is now %v (%v)", st.Mode(), err)
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO is now %v (%v)", st.Mode(), err)
	}
	select {
	case b := <-got:
		var log struct{ Version string }
		if err := json.Unmarshal(b, &log); err != nil || log.Version != "2.1.0" {
			t.Errorf("the FIFO's reader got %d bytes, not the SARIF report: %v", len(b), err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the FIFO's reader got nothing")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("left beside the nodes: %v", entries)
	}
}

// TestReportPermissions: reports get the umask's permissions, keep those
// of a report they replace, and are 0600 with --show-secrets.
func TestReportPermissions(t *testing.T) {
	dir := t.TempDir()
	run := func(umask string, args ...string) {
		t.Helper()
		cmd := exec.Command("sh", append([]string{"-c", "umask " + umask + " && exec \"$0\" \"$@\"", peelBin}, args...)...)
		cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir(), "PEEL_FINGERPRINT_KEY=")
		if out, err := cmd.CombinedOutput(); err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("%v: %v %s", args, err, out)
			}
		}
	}
	mode := func(p string) os.FileMode {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Mode().Perm()
	}
	plain, shown, kept := filepath.Join(dir, "plain.json"), filepath.Join(dir, "shown.json"), filepath.Join(dir, "kept.json")
	run("022", "scan", "-q", "-o", "json="+plain, fx("sts-v1.tar"))
	run("022", "scan", "-q", "--show-secrets", "-o", "json="+shown, fx("sts-v1.tar"))
	os.WriteFile(kept, nil, 0o600)
	run("022", "scan", "-q", "-o", "json="+kept, fx("sts-v1.tar"))
	for p, want := range map[string]os.FileMode{plain: 0o644, shown: 0o600, kept: 0o600} {
		if m := mode(p); m != want {
			t.Errorf("%s: %v, want %v", filepath.Base(p), m, want)
		}
	}
	run("077", "scan", "-q", "-o", "json="+filepath.Join(dir, "strict.json"), fx("sts-v1.tar"))
	if m := mode(filepath.Join(dir, "strict.json")); m != 0o600 {
		t.Errorf("umask 077: %v", m)
	}
	// A replaced --show-secrets report is not left readable by others.
	os.Chmod(plain, 0o644)
	run("022", "scan", "-q", "--show-secrets", "-o", "json="+plain, fx("sts-v1.tar"))
	if m := mode(plain); m != 0o600 {
		t.Errorf("--show-secrets over a 0644 report: %v", m)
	}
}

// TestNamesCannotDriveTheTerminal: a file whose name holds control
// characters (clear the screen, go home, print "No secrets found.") is
// shown escaped in the table and on stderr, never raw.
func TestNamesCannotDriveTheTerminal(t *testing.T) {
	dir := t.TempDir()
	evil := "x\r\x1b[2J\x1b[HNo secrets found.\n\u202e.env"
	if err := os.WriteFile(filepath.Join(dir, evil), []byte("DB_PASSWORD=terminal-test-pw-0c1d\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := peel(t, "scan", "--no-cache", "dir:"+dir)
	if r.code != 1 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	out := r.stdout + r.stderr
	for _, raw := range []string{"\x1b", "\r", "\u202e"} {
		if strings.Contains(out, raw) {
			t.Errorf("%q reached the output raw", raw)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "No secrets found." {
			t.Error(`the name printed a line "No secrets found." of its own`)
		}
	}
	if !strings.Contains(r.stdout, `x\r\x1b[2J\x1b[HNo secrets found.\n\u202e.env`) {
		t.Errorf("the name is not shown escaped:\n%s", r.stdout)
	}
	// JSON keeps the name exact (escaped by JSON's own rules).
	rep := decode(t, peel(t, "scan", "--no-cache", "-f", "json", "dir:"+dir))
	if len(rep.Images[0].Findings) != 1 || !strings.HasSuffix(rep.Images[0].Findings[0].Path[0], evil) {
		t.Errorf("JSON path %q", rep.Images[0].Findings[0].Path)
	}
	// An error naming the input is one line, escaped.
	r = peel(t, "scan", filepath.Join(dir, "missing\x1b[2J.tar"))
	if r.code != 2 || strings.Contains(r.stderr, "\x1b") || !strings.Contains(r.stderr, `missing\x1b[2J.tar`) {
		t.Errorf("error line %q", r.stderr)
	}
	if got := report.Printable("a\x00b\x7fc\xffd\u2028e\\f"); got != `a\x00b\x7fc\xffd\u2028e\f` {
		t.Errorf("Printable: %q", got)
	}
}
