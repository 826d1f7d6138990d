// Command peel finds secrets baked into container images: configuration
// inside fat jars, keys, keystores and the passwords that open them, build
// arguments and environment, in every layer. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/peelscan/peel/internal/privdir"
	"github.com/peelscan/peel/report"
)

func main() {
	ctx, stop := signalContext()
	err := newRootCommand().ExecuteContext(ctx)
	code := exitCode(ctx, err)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitClean    = 0   // nothing at or above --fail-on
	exitFindings = 1   // findings at or above --fail-on
	exitError    = 2   // bad input, unreadable image, bad flag
	exitSignal   = 128 // plus the signal's number: interrupted (130 for Ctrl-C)
	exitPipe     = 141 // stdout was closed early (peel scan … | head -1), as a process SIGPIPE kills
)

// findingsError is returned by scan when findings reach the fail
// threshold; the report has already been written. code is the exit
// status (--exit-code).
type findingsError struct{ code int }

func (findingsError) Error() string { return "findings at or above the fail threshold" }

// errStdoutClosed is returned when the report's reader went away (a
// broken pipe): nothing is left to tell, on stdout or off it.
var errStdoutClosed = errors.New("stdout closed")

// signalled is the cause of the context's end when a signal arrived.
type signalled struct{ sig syscall.Signal }

func (s signalled) Error() string {
	if s.sig == syscall.SIGINT {
		return "interrupted"
	}
	return "interrupted by " + s.sig.String()
}

// signalContext ends its context on SIGINT, SIGTERM or SIGHUP, so that
// the scan stops and cleans up; a second signal exits at once, removing
// the temp directories first. A write to a closed pipe fails with EPIPE
// instead of killing peel before it has removed its temp directory.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	go func() {
		s, ok := <-sigs
		if !ok {
			return
		}
		sig := s.(syscall.Signal)
		cancel(signalled{sig})
		if _, ok := <-sigs; ok {
			removeTempDirs()
			fmt.Fprintln(os.Stderr, "peel: interrupted")
			os.Exit(exitSignal + int(sig))
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(sigs)
		cancel(nil)
	}
}

// tempDirs are removed on a second signal, which exits without unwinding.
var tempDirs struct {
	sync.Mutex
	paths []string
}

// privateTempDir makes the command's private temp directory (spill files,
// unpacked archives) in TMPDIR, refusing a TMPDIR others could swap it in,
// and registers it for removal however the command ends; the caller
// removes it when done.
func privateTempDir() (string, error) {
	if err := privdir.CheckTemp(os.TempDir()); err != nil {
		return "", fmt.Errorf("temp directory: %w", advise(err, "set TMPDIR to a directory of your own"))
	}
	tmp, err := os.MkdirTemp("", "peel-")
	if err != nil {
		return "", err
	}
	registerTempDir(tmp)
	return tmp, nil
}

func registerTempDir(p string) {
	tempDirs.Lock()
	defer tempDirs.Unlock()
	tempDirs.paths = append(tempDirs.paths, p)
}

func removeTempDirs() {
	tempDirs.Lock()
	defer tempDirs.Unlock()
	for _, p := range tempDirs.paths {
		os.RemoveAll(p)
	}
}

func exitCode(ctx context.Context, err error) int {
	var s signalled
	var fe findingsError
	switch {
	case err == nil:
		return exitClean
	case errors.As(err, &fe):
		return fe.code
	case errors.As(context.Cause(ctx), &s):
		fmt.Fprintln(os.Stderr, "peel:", s)
		return exitSignal + int(s.sig)
	case errors.Is(err, errStdoutClosed):
		return exitPipe
	}
	fmt.Fprintf(os.Stderr, "peel: %s\n", report.Printable(strings.Join(strings.Fields(err.Error()), " ")))
	return exitError
}
