package regtest

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StallKind is where a Stalling server stops answering.
type StallKind int

// Ways to stall.
const (
	// StallConnect never accepts: its listen backlog is full, so a
	// connection attempt gets no answer (Linux drops the SYN).
	StallConnect StallKind = iota
	// StallTLS accepts connections and never sends a byte.
	StallTLS
	// StallResponse completes TLS and reads the request, and never
	// answers it.
	StallResponse
	// StallBody answers the registry's ping (GET /v2/), then sends a
	// response's headers and the first bytes of its body, and no more.
	StallBody
)

// Stalling starts a server on 127.0.0.1 that stalls as kind says until the
// test ends, and returns its host:port and a PEM file of the authority its
// TLS certificate chains to (for --ca-file).
func Stalling(t testing.TB, kind StallKind) (host, caFile string) {
	t.Helper()
	switch kind {
	case StallConnect:
		return fullBacklog(t), ""
	case StallTLS:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var conns []net.Conn
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, c) // held open, never written to
				mu.Unlock()
			}
		}()
		t.Cleanup(func() {
			l.Close()
			mu.Lock()
			defer mu.Unlock()
			for _, c := range conns {
				c.Close()
			}
		})
		return l.Addr().String(), ""
	}
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if kind == StallBody && r.URL.Path == "/v2/" {
			return // 200: no authentication
		}
		if kind == StallBody {
			w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
			w.Header().Set("Content-Length", "4096")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(`{"schemaVersion": 2,`))
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	caFile = serveTLS(t, srv, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	t.Cleanup(func() {
		close(release)
		srv.CloseClientConnections()
		srv.Close()
	})
	return strings.TrimPrefix(srv.URL, "https://"), caFile
}

// ExpiredTLS starts a registry-shaped TLS server on 127.0.0.1 whose
// certificate expired yesterday, and returns its host:port and the PEM
// file of its (valid) authority.
func ExpiredTLS(t testing.TB) (host, caFile string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	caFile = serveTLS(t, srv, time.Now().Add(-72*time.Hour), time.Now().Add(-24*time.Hour))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "https://"), caFile
}

// serveTLS starts srv with a certificate valid from notBefore to notAfter,
// and writes the PEM of its authority to a file.
func serveTLS(t testing.TB, srv *httptest.Server, notBefore, notAfter time.Time) string {
	t.Helper()
	caPEM, certPEM, keyPEM, err := certificatesFor(notBefore, notAfter)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes the client refuses
	srv.StartTLS()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile
}

// fullBacklog listens with a backlog of one and fills it, so that every
// further connection attempt waits for an answer that never comes.
func fullBacklog(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	host := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	filler, err := net.DialTimeout("tcp", host, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", host, 200*time.Millisecond); err == nil {
		c.Close()
		t.Skip("this kernel accepts connections past a full listen backlog: cannot make a connection stall")
	}
	t.Cleanup(func() {
		filler.Close()
		syscall.Close(fd)
	})
	return host
}
