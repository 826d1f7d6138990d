// Package dockertest runs a real Docker daemon for end-to-end tests:
// Debian's docker.io dockerd, as root, with the vfs storage driver, no
// networking of its own (no iptables rules, no bridge), its data, state and
// API socket in a private directory, so that nothing of the machine's own
// Docker is touched. make e2e (and so .ci/run) starts one with
// testdata/dockerd and stops it with a trap; the tests find it through
// EnvHost.
package dockertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// Binary is the daemon; Package is the Debian package with it.
const (
	Binary  = "dockerd"
	Package = "docker.io"
)

// EnvHost names the daemon a test uses (DOCKER_HOST syntax,
// unix:///…/docker.sock).
const EnvHost = "PEEL_TEST_DOCKER_HOST"

// Host returns the daemon a test uses: the one EnvHost names (make e2e
// starts it), or one it runs itself, as root, and stops when the test
// ends. Without either it skips the test, saying why (under CI=true it
// fails instead).
func Host(t testing.TB) (host string, shared bool) {
	t.Helper()
	if h := os.Getenv(EnvHost); h != "" {
		return h, true
	}
	_, err := exec.LookPath(Binary)
	if err == nil && os.Geteuid() == 0 {
		h, stop, err := Launch(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		return h, false
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("no Docker daemon: CI must run as root with the Debian package %s (.ci/run installs it)", Package)
	}
	t.Skipf("no Docker daemon: run as root with the Debian package %s installed, or set %s", Package, EnvHost)
	return "", false
}

// Launch runs dockerd with its files under dir and returns its
// DOCKER_HOST. stop ends it (SIGTERM, then SIGKILL after 20 s); the kernel
// sends it SIGTERM too when the caller's process dies, however it dies.
func Launch(dir string) (host string, stop func(), err error) {
	bin, err := exec.LookPath(Binary)
	if err != nil {
		return "", nil, fmt.Errorf("%s not found: install the Debian package %s", Binary, Package)
	}
	if os.Geteuid() != 0 {
		return "", nil, fmt.Errorf("%s must run as root", Binary)
	}
	sock := filepath.Join(dir, "docker.sock")
	host = "unix://" + sock
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "--storage-driver", "vfs", "--iptables=false", "--ip6tables=false", "--bridge=none",
		"--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"), "-H", host)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return "", nil, fmt.Errorf("starting %s: %w", Binary, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	stop = func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	c, err := client.New(client.WithHost(host))
	if err != nil {
		stop()
		return "", nil, err
	}
	defer c.Close()
	for deadline := time.Now().Add(60 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
		cancel()
		if err == nil {
			return host, stop, nil
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "dockerd.log"))
			return "", nil, fmt.Errorf("%s exited: %s", Binary, lastLines(b, 5))
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("%s did not answer on %s: %v", Binary, sock, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func lastLines(b []byte, n int) string {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte(" | ")))
}

// Load loads a docker save archive into the daemon at host, as docker
// load does.
func Load(ctx context.Context, host, archive string) error {
	c, err := client.New(client.WithHost(host))
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return err
	}
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := c.ImageLoad(ctx, f, client.ImageLoadWithQuiet(true))
	if err != nil {
		return fmt.Errorf("docker load %s: %w", archive, err)
	}
	defer res.Close()
	out, err := io.ReadAll(res)
	if err != nil {
		return err
	}
	if bytes.Contains(out, []byte(`"errorDetail"`)) {
		return errors.New("docker load: " + string(bytes.TrimSpace(out)))
	}
	return nil
}

// Remove deletes an image from the daemon at host (docker rmi -f).
func Remove(ctx context.Context, host, ref string) error {
	c, err := client.New(client.WithHost(host))
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return err
	}
	_, err = c.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	return err
}

// Save writes the daemon's docker save of ref to path.
func Save(ctx context.Context, host, ref, path string) error {
	c, err := client.New(client.WithHost(host))
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return err
	}
	rc, err := c.ImageSave(ctx, []string{ref})
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
