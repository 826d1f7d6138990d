// Command registry runs the distribution registry (Debian's docker-registry)
// for peel's end-to-end tests: on a free port of 127.0.0.1, with TLS from a
// certificate authority made for the run and htpasswd auth, its files in
// -dir. Once it answers, it writes DIR/env (shell assignments naming the
// registry, its CA and credentials, which the tests read) and runs until
// SIGINT or SIGTERM, then stops the registry. make e2e and .ci/run start it
// and stop it with a trap, whatever happens.
//
// Usage: registry -dir DIR
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/peelscan/peel/internal/regtest"
)

func main() {
	dir := flag.String("dir", "", "directory for the registry's files and the env file")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "registry: -dir is required")
		os.Exit(2)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	r, stop, err := regtest.Launch(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
		os.Exit(1)
	}
	defer stop()
	if err := os.WriteFile(filepath.Join(*dir, "env"), []byte(r.Env()), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
		return
	}
	fmt.Printf("registry on https://%s (TLS, htpasswd auth); stop with SIGTERM\n", r.Host)
	<-sig
}
