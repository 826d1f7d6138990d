package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/peelscan/peel/internal/fixture"
)

// dockerHub is a stand-in for Docker Hub on 127.0.0.1, reached the way
// peel reaches the real one (https://index.docker.io, tokens from
// https://auth.docker.io) through an HTTPS proxy (HTTPS_PROXY) that sends
// those hosts, and no other, to it. As Docker Hub does, it hands a token
// to anyone, and answers 401 for a repository that does not exist.
type dockerHub struct {
	proxyURL string
	caFile   string
	user     string
	password string
	token    string

	mu      sync.Mutex
	pushed  map[string]bool
	hosts   []string // CONNECT targets asked for
	refused []string
}

func startDockerHub(t *testing.T) *dockerHub {
	t.Helper()
	h := &dockerHub{user: "ci", password: "hub-pw-" + randHex(8), token: "hub-token-" + randHex(12), pushed: map[string]bool{}}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))

	// Pushed directly, over plain HTTP.
	direct := httptest.NewServer(reg)
	t.Cleanup(direct.Close)
	img, err := fixture.STSv1()
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(strings.TrimPrefix(direct.URL, "http://") + "/library/alpine:latest")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	h.pushed["library/alpine"] = true

	caPEM, cert := hubCertificates(t)
	h.caFile = filepath.Join(t.TempDir(), "hub-ca.pem")
	os.WriteFile(h.caFile, caPEM, 0o600)
	hub := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Host == "auth.docker.io" && r.URL.Path == "/token":
			if u, p, ok := r.BasicAuth(); ok && (u != h.user || p != h.password) {
				http.Error(w, `{"details":"incorrect username or password"}`, http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"token":"`+h.token+`","access_token":"`+h.token+`","expires_in":300}`)
		case r.Host == "index.docker.io" && strings.HasPrefix(r.URL.Path, "/v2/"):
			if r.Header.Get("Authorization") != "Bearer "+h.token {
				w.Header().Set("WWW-Authenticate", `Bearer realm="https://auth.docker.io/token",service="registry.docker.io"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
			repo := strings.TrimPrefix(r.URL.Path, "/v2/")
			if i := strings.Index(repo, "/manifests/"); i >= 0 && !h.pushed[repo[:i]] {
				w.Header().Set("WWW-Authenticate", `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",error="insufficient_scope"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
			reg.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
	hub.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	hub.StartTLS()
	t.Cleanup(hub.Close)
	hubAddr := hub.Listener.Addr().String()

	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.Host)
		h.mu.Lock()
		h.hosts = append(h.hosts, r.Host)
		h.mu.Unlock()
		if r.Method != http.MethodConnect || host != "index.docker.io" && host != "auth.docker.io" {
			h.mu.Lock()
			h.refused = append(h.refused, r.Method+" "+r.Host)
			h.mu.Unlock()
			http.Error(w, "not Docker Hub", http.StatusForbidden)
			return
		}
		upstream, err := net.Dial("tcp", hubAddr)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			upstream.Close()
			return
		}
		io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
		go func() { io.Copy(upstream, buf); upstream.Close() }()
		io.Copy(conn, upstream)
		conn.Close()
	}))
	t.Cleanup(proxy.Close)
	h.proxyURL = proxy.URL
	return h
}

func (h *dockerHub) env() []string {
	return []string{"HTTPS_PROXY=" + h.proxyURL, "https_proxy=" + h.proxyURL, "NO_PROXY=", "no_proxy="}
}

// hubCertificates makes a CA and a certificate for Docker Hub's names.
func hubCertificates(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "peel test Docker Hub CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "index.docker.io"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), DNSNames: []string{"index.docker.io", "auth.docker.io"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	const digits = "0123456789abcdef"
	out := make([]byte, 2*n)
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}

// TestDockerHubShortNames: a short name is Docker Hub's, as docker pull
// has it (alpine is library/alpine); one Docker Hub does not serve, with
// no such local path either, says "no such file or image" and what was
// tried; --debug names the URLs and never the password or the token.
func TestDockerHubShortNames(t *testing.T) {
	hub := startDockerHub(t)
	r := peelEnv(t, hub.env(), "", "scan", "-f", "json", "--ca-file", hub.caFile, "alpine")
	if r.code != 1 {
		t.Fatalf("alpine: exit %d\n%s", r.code, r.stderr)
	}
	img := decode(t, r).Images[0]
	if img.Input != "alpine" || img.Ref != "index.docker.io/library/alpine:latest" || len(img.Findings) != 4 {
		t.Errorf("alpine: input %q ref %q, %d findings", img.Input, img.Ref, len(img.Findings))
	}

	r = peelEnv(t, hub.env(), "", "scan", "--ca-file", hub.caFile, "buld")
	want := "peel: buld: no such file or image: not a local path, nor an image Docker Hub serves (docker.io/library/buld:latest: authentication failed (401 Unauthorized))\n"
	if r.code != 2 || r.stderr != want || r.stdout != "" {
		t.Errorf("buld: exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}
	// With credentials, a 401 is about them.
	r = peelEnv(t, hub.env(), "wrong\n", "scan", "--ca-file", hub.caFile, "-u", hub.user, "--password-stdin", "buld")
	if r.code != 2 || !strings.Contains(r.stderr, "check the credentials") {
		t.Errorf("buld with credentials: exit %d %q", r.code, r.stderr)
	}

	// The token flow under --debug: the requests are named, no credential.
	r = peelEnv(t, hub.env(), hub.password+"\n", "--debug", "scan", "--no-cache", "--ca-file", hub.caFile, "-u", hub.user, "--password-stdin", "prabath/none", "alpine")
	for _, want := range []string{
		"peel: debug: pulling registry=index.docker.io ref=index.docker.io/prabath/none:latest",
		"peel: debug: request method=GET url=https://index.docker.io/v2/ status=401",
		"peel: debug: request method=GET url=https://auth.docker.io/token?… status=200",
		"url=https://index.docker.io/v2/prabath/none/manifests/latest status=401",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("--debug lacks %q:\n%s", want, r.stderr)
		}
	}
	for _, secret := range []string{hub.password, hub.token, base64.StdEncoding.EncodeToString([]byte(hub.user + ":" + hub.password)), "scope=", "Bearer"} {
		if strings.Contains(r.stderr+r.stdout, secret) {
			t.Errorf("--debug shows %.10q…:\n%s", secret, r.stderr)
		}
	}
	hub.mu.Lock()
	defer hub.mu.Unlock()
	if len(hub.refused) > 0 {
		t.Errorf("peel asked the proxy for other hosts: %q", hub.refused)
	}
	t.Logf("hosts asked for: %q", hub.hosts)
}
