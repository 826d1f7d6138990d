package main

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peelscan/peel/internal/regtest"
)

// peelIn runs peel with TMPDIR set to a fresh directory, and returns it
// with the command (not yet started).
func peelIn(t *testing.T, args ...string) (*exec.Cmd, string, *strings.Builder) {
	t.Helper()
	tmp := t.TempDir()
	cmd := exec.Command(peelBin, args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "XDG_CACHE_HOME="+t.TempDir(), "PEEL_FINGERPRINT_KEY=")
	var errb strings.Builder
	cmd.Stderr = &errb
	return cmd, tmp, &errb
}

func exitStatus(t *testing.T, err error) int {
	t.Helper()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

func emptyDir(t *testing.T, dir string) {
	t.Helper()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left in TMPDIR: %v", entries)
	}
}

// TestInterrupted: SIGINT mid-scan (peel waiting on a registry that never
// answers) says "interrupted", exits 130 within a second, and leaves no
// temp directory; SIGTERM exits 143.
func TestInterrupted(t *testing.T) {
	silent, _ := regtest.Stalling(t, regtest.StallTLS)
	for sig, want := range map[syscall.Signal]int{syscall.SIGINT: 130, syscall.SIGTERM: 143} {
		cmd, tmp, errb := peelIn(t, "scan", silent+"/app/image:1")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		sent := time.Now()
		cmd.Process.Signal(sig)
		code := exitStatus(t, cmd.Wait())
		if took := time.Since(sent); took > time.Second {
			t.Errorf("%v: took %s to stop", sig, took)
		}
		if code != want || !strings.HasPrefix(errb.String(), "peel: interrupted") || strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want %d and peel: interrupted", sig, code, errb.String(), want)
		}
		emptyDir(t, tmp)
	}
}

// TestBrokenPipe: a reader that goes away (peel scan … | head -1) ends
// peel with 141, silently, and leaves no temp directory.
func TestBrokenPipe(t *testing.T) {
	// A pipe whose reader is already closed: every write fails.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	cmd, tmp, errb := peelIn(t, "scan", fx("zoo.tar"))
	cmd.Stdout = w
	err = cmd.Run()
	w.Close()
	if code := exitStatus(t, err); code != 141 || errb.Len() != 0 {
		t.Errorf("closed pipe: exit %d, stderr %q; want 141 and nothing", code, errb.String())
	}
	emptyDir(t, tmp)

	// As a shell runs it: a report longer than the pipe holds, and head -1.
	args := []string{"scan", "--explain"}
	for range 40 {
		args = append(args, fx("zoo.tar"))
	}
	tmp = t.TempDir()
	sh := exec.Command("bash", "-c", `"$@" | head -1 >/dev/null; exit "${PIPESTATUS[0]}"`, "sh", peelBin)
	sh.Args = append(sh.Args, args...)
	sh.Env = append(os.Environ(), "TMPDIR="+tmp, "XDG_CACHE_HOME="+t.TempDir())
	out, err := sh.CombinedOutput()
	if code := exitStatus(t, err); code != 141 {
		t.Errorf("| head -1: exit %d %s", code, out)
	}
	emptyDir(t, tmp)
}
