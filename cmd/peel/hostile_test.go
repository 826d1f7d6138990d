package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peelscan/peel/internal/fixture"
)

// caseTime is the longest one item of the hostile corpus may take.
const caseTime = 60 * time.Second

// TestHostileCorpus scans every item of the hostile corpus with the built
// binary and checks its outcome (exit status, what the report or error
// says), that it did not panic, that it stayed under 512 MiB and within
// a minute, and that Ctrl-C stops it within a second.
func TestHostileCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("the hostile corpus takes a few seconds to generate")
	}
	// The corpus is written by testdata/gen in a process of its own: it
	// takes over a gigabyte to build, and Linux passes a process's peak RSS
	// on to the children it starts, which would hide peel's own.
	dir := t.TempDir()
	gen := filepath.Join(t.TempDir(), "gen")
	if out, err := exec.Command("go", "build", "-o", gen, "../../testdata/gen").CombinedOutput(); err != nil {
		t.Fatalf("building testdata/gen: %v\n%s", err, out)
	}
	if out, err := exec.Command(gen, "-out", "", "-hostile", dir).CombinedOutput(); err != nil {
		t.Fatalf("writing the corpus: %v\n%s", err, out)
	}
	var cases []fixture.HostileCase
	b, err := os.ReadFile(filepath.Join(dir, "EXPECTED.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	var peak int64
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*caseTime)
			defer cancel()
			cmd := exec.CommandContext(ctx, peelBin, "scan", "-f", "json", "--show-secrets", "--no-cache", c.Input)
			cmd.Dir = dir
			var out, errb strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &errb
			start := time.Now()
			err := cmd.Run()
			if took := time.Since(start); took > caseTime {
				t.Errorf("took %v, over %v", took.Round(time.Second), caseTime)
			}
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(errb.String(), "-pw") {
				t.Errorf("a planted secret reached stderr: %s", errb.String())
			}
			if strings.Contains(errb.String(), "panic") || strings.Contains(errb.String(), "goroutine ") {
				t.Fatalf("panicked:\n%s", errb.String())
			}
			if code != c.Exit {
				t.Errorf("exit %d, want %d (%s)\nstderr: %s", code, c.Exit, c.Why, errb.String())
			}
			text := out.String()
			if c.Exit == 2 {
				text = errb.String()
				if strings.Count(text, "\n") != 1 {
					t.Errorf("error is not one line: %q", text)
				}
			}
			for _, w := range c.Want {
				if !strings.Contains(text, w) {
					t.Errorf("output lacks %q (%s):\n%.2000s", w, c.Why, text)
				}
			}
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				rss := ru.Maxrss * 1024
				if rss > peak {
					peak = rss
				}
				if rss > 512<<20 {
					t.Errorf("peak RSS %d MiB, over 512 MiB", rss>>20)
				}
			}
		})
	}
	t.Logf("peak RSS over the corpus: %d MiB", peak>>20)

	// Ctrl-C while keystores' key derivations run (40 stores that take
	// seconds together): peel stops within a second.
	t.Run("interrupted mid key derivation", func(t *testing.T) {
		cmd := exec.Command(peelBin, "scan", "--no-cache", "oci-archive:pkcs12-budget.tar")
		cmd.Dir = dir
		var errb strings.Builder
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond) // the layers take a few ms; the derivations seconds
		sent := time.Now()
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			ee, ok := err.(*exec.ExitError)
			if took := time.Since(sent); !ok || ee.ExitCode() != 130 || took > time.Second {
				t.Errorf("exit %v %v after SIGINT (stderr %q), want 130 within a second", err, took, errb.String())
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Error("still running 10 s after SIGINT")
		}
	})

	// Ctrl-C mid-scan: "interrupted", exit 130, and nothing left in the
	// temp directory.
	t.Run("interrupted", func(t *testing.T) {
		tmp := t.TempDir()
		cmd := exec.Command(peelBin, "scan", "--no-cache", "oci-archive:long-line.tar")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		var errb strings.Builder
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		cmd.Process.Signal(os.Interrupt)
		err := cmd.Wait()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 130 || errb.String() != "peel: interrupted\n" {
			t.Errorf("interrupted scan: %v (stderr %q), want exit 130 and peel: interrupted", err, errb.String())
		}
		if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
			t.Errorf("left in the temp directory: %v", entries)
		}
	})
}
