// Command dockerd runs a Docker daemon (Debian's docker.io, as root) for
// peel's end-to-end tests, its files under -dir (see internal/dockertest).
// Once it answers, it writes DIR/env (the shell assignment naming its
// socket, which the tests read) and runs until SIGINT or SIGTERM, then
// stops the daemon. make e2e and .ci/run start it and stop it with a trap,
// whatever happens.
//
// Usage: dockerd -dir DIR
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/peelscan/peel/internal/dockertest"
)

func main() {
	dir := flag.String("dir", "", "directory for the daemon's data, state, socket and the env file")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "dockerd: -dir is required")
		os.Exit(2)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	host, stop, err := dockertest.Launch(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dockerd:", err)
		os.Exit(1)
	}
	defer stop()
	env := fmt.Sprintf("export %s=%s\n", dockertest.EnvHost, host)
	if err := os.WriteFile(filepath.Join(*dir, "env"), []byte(env), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "dockerd:", err)
		return
	}
	fmt.Printf("dockerd on %s (vfs, no networking); stop with SIGTERM\n", host)
	<-sig
}
