// Command redis runs Redis (Debian's redis-server) for peel's end-to-end
// tests: on a free port of 127.0.0.1, nothing saved to disk, its files in
// -dir. Once it answers, it writes DIR/env (the shell assignment naming
// it, which the tests read) and runs until SIGINT or SIGTERM, then stops
// the server. make e2e and .ci/run start it and stop it with a trap,
// whatever happens.
//
// Usage: redis -dir DIR
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/peelscan/peel/internal/redistest"
)

func main() {
	dir := flag.String("dir", "", "directory for the server's files and the env file")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "redis: -dir is required")
		os.Exit(2)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s, stop, err := redistest.Launch(*dir, redistest.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "redis:", err)
		os.Exit(1)
	}
	defer stop()
	if err := os.WriteFile(filepath.Join(*dir, "env"), []byte(s.Env()), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "redis:", err)
		return
	}
	fmt.Printf("redis-server on %s (no persistence); stop with SIGTERM\n", s.Addr)
	<-sig
}
