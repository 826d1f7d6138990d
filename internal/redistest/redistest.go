// Package redistest runs a real Redis for tests: Debian's redis-server on
// 127.0.0.1, on a free port, its files in a directory of the test's, with
// no persistence; optionally with TLS from a certificate authority made for
// the run and a password. make e2e and .ci/run start one with
// testdata/redis and name it in the environment (EnvAddr); Start uses it
// then.
package redistest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/peelscan/peel/internal/regtest"
)

// Binary is the server; Package is the Debian package with it.
const (
	Binary  = "redis-server"
	Package = "redis-server"
)

// EnvAddr names a Redis already running (host:port, no password, no TLS),
// as testdata/redis (make e2e, .ci/run) starts one.
const EnvAddr = "PEEL_TEST_REDIS"

// Server is a running Redis.
type Server struct {
	Addr     string // 127.0.0.1:PORT
	Password string // requirepass, or ""
	CAFile   string // with TLS: PEM of the CA that signed its certificate
	// dbs hands out database numbers: each test of a shared server gets
	// its own, flushed first.
	dbs *atomic.Int32
}

// Options shape a server that Launch starts.
type Options struct {
	TLS      bool   // serve TLS only (rediss://), with a CA made for it
	Password string // require this password (the default user's)
}

// Start returns a Redis for a test: the one EnvAddr names, or one it runs
// itself and stops when the test ends. Without either it skips the test,
// naming the package to install (under CI=true it fails instead).
func Start(t testing.TB) *Server {
	t.Helper()
	if addr := os.Getenv(EnvAddr); addr != "" {
		return shared(addr)
	}
	return StartWith(t, Options{})
}

var sharedDBs atomic.Int32

func shared(addr string) *Server { return &Server{Addr: addr, dbs: &sharedDBs} }

// StartWith runs a Redis of its own for the test, with opts.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	if _, err := exec.LookPath(Binary); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: CI must install the Debian package %s (.ci/run does)", Binary, Package)
		}
		t.Skipf("%s not found: install the Debian package %s to run the Redis tests", Binary, Package)
	}
	s, stop, err := Launch(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return s
}

// URL is the server's URL for database db: redis://[:PASSWORD@]ADDR/DB,
// rediss:// with TLS.
func (s *Server) URL(db int) string {
	scheme := "redis"
	if s.CAFile != "" {
		scheme = "rediss"
	}
	auth := ""
	if s.Password != "" {
		auth = ":" + s.Password + "@"
	}
	return fmt.Sprintf("%s://%s%s/%d", scheme, auth, s.Addr, db)
}

// DB returns the URL of a database of its own for the test, emptied:
// a server shared by several tests gives each its own number (1 to 15).
func (s *Server) DB(t testing.TB) string {
	t.Helper()
	n := 0
	if s.dbs != nil {
		n = int(s.dbs.Add(1))
		if n > 15 {
			t.Fatal("redistest: more than 15 tests on one shared server")
		}
	}
	c := s.Client(n)
	defer c.Close()
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("flushing redis db %d: %v", n, err)
	}
	return s.URL(n)
}

// Client returns a go-redis client of database db.
func (s *Server) Client(db int) *goredis.Client {
	opts, err := goredis.ParseURL(s.URL(db))
	if err != nil {
		panic(err) // URL builds a valid URL
	}
	if s.CAFile != "" {
		ca, _ := os.ReadFile(s.CAFile)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		opts.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return goredis.NewClient(opts)
}

// Env is the server as a shell assignment, for testdata/redis.
func (s *Server) Env() string { return fmt.Sprintf("export %s=%s\n", EnvAddr, s.Addr) }

// Launch runs redis-server on a free port of 127.0.0.1, its files in dir,
// nothing saved to disk. stop kills it; the kernel kills it too when the
// caller's process dies, however it dies.
func Launch(dir string, opts Options) (s *Server, stop func(), err error) {
	bin, err := exec.LookPath(Binary)
	if err != nil {
		return nil, nil, fmt.Errorf("%s not found: install the Debian package %s", Binary, Package)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	s = &Server{Addr: addr, Password: opts.Password}
	args := []string{"--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--logfile", "", "--loglevel", "warning"}
	if opts.TLS {
		caPEM, certPEM, keyPEM, err := regtest.Certificates()
		if err != nil {
			return nil, nil, err
		}
		s.CAFile = filepath.Join(dir, "ca.pem")
		for name, data := range map[string][]byte{"ca.pem": caPEM, "server.crt": certPEM, "server.key": keyPEM} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				return nil, nil, err
			}
		}
		args = append(args, "--port", "0", "--tls-port", port,
			"--tls-cert-file", filepath.Join(dir, "server.crt"), "--tls-key-file", filepath.Join(dir, "server.key"),
			"--tls-ca-cert-file", s.CAFile, "--tls-auth-clients", "no")
	} else {
		args = append(args, "--port", port)
	}
	if opts.Password != "" {
		args = append(args, "--requirepass", opts.Password)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("starting %s: %w", Binary, err)
	}
	stop = func() {
		cmd.Process.Kill()
		cmd.Wait()
	}
	c := s.Client(0)
	defer c.Close()
	for deadline := time.Now().Add(20 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return s, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, nil, fmt.Errorf("%s did not come up on %s: %v\n%s", Binary, addr, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freeAddr finds a free port on 127.0.0.1.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
