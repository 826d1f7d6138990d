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
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	os.Exit(exitCode(err))
}

// Exit codes.
const (
	exitClean    = 0 // nothing at or above --fail-on
	exitFindings = 1 // findings at or above --fail-on
	exitError    = 2 // bad input, unreadable image, bad flag
)

// errFindings is returned by scan when findings reach the fail threshold;
// the report has already been written.
var errFindings = errors.New("findings at or above the fail threshold")

func exitCode(err error) int {
	switch {
	case err == nil:
		return exitClean
	case errors.Is(err, errFindings):
		return exitFindings
	}
	fmt.Fprintf(os.Stderr, "peel: %v\n", err)
	return exitError
}
