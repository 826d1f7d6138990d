// Package regtest runs a real registry for end-to-end tests: the
// distribution registry (Debian's docker-registry package) on 127.0.0.1,
// with htpasswd basic auth and TLS from a certificate authority made for
// the test, and a proxy in front of it that injects the failures a
// registry cannot produce on demand (429 with Retry-After, a connection
// dropped mid-blob, a blob swapped for another).
package regtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"
)

// Binary is the registry server; Package is the Debian package with it.
const (
	Binary  = "docker-registry"
	Package = "docker-registry"
)

// Registry is a running registry.
type Registry struct {
	Host     string // 127.0.0.1:PORT
	CAFile   string // PEM of the CA that signed its certificate
	User     string
	Password string
	// Transport trusts the registry's CA.
	Transport http.RoundTripper
}

// Start runs a registry for the test and stops it when the test ends. It
// skips the test, naming the package to install, when the binary is
// missing.
func Start(t testing.TB) *Registry {
	t.Helper()
	bin, err := exec.LookPath(Binary)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: CI must install the Debian package %s (.ci/run does)", Binary, Package)
		}
		t.Skipf("%s not found: install the Debian package %s to run the registry tests", Binary, Package)
	}
	dir := t.TempDir()
	r := &Registry{User: "peel", Password: "peel-test-registry-pw", CAFile: filepath.Join(dir, "ca.pem")}
	caPEM, certPEM, keyPEM := certificates(t)
	write(t, r.CAFile, caPEM)
	write(t, filepath.Join(dir, "server.crt"), certPEM)
	write(t, filepath.Join(dir, "server.key"), keyPEM)
	hash, err := bcrypt.GenerateFromPassword([]byte(r.Password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "htpasswd"), []byte(r.User+":"+string(hash)+"\n"))
	r.Host = freeAddr(t)
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  secret: peel-test
  tls:
    certificate: %s
    key: %s
auth:
  htpasswd:
    realm: peel-test
    path: %s
`, filepath.Join(dir, "data"), r.Host, filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"), filepath.Join(dir, "htpasswd"))
	cfgPath := filepath.Join(dir, "config.yml")
	write(t, cfgPath, []byte(cfg))

	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = childAttr() // killed with the test process
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", Binary, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	r.Transport = tr
	client := &http.Client{Transport: tr, Timeout: time.Second}
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := client.Get("https://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come up on %s: %v\n%s", Binary, r.Host, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *Registry) options() []remote.Option {
	return []remote.Option{remote.WithAuth(&authn.Basic{Username: r.User, Password: r.Password}), remote.WithTransport(r.Transport)}
}

// Push uploads img as HOST/repoTag.
func (r *Registry) Push(t testing.TB, repoTag string, img v1.Image) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(r.Host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, r.options()...); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return ref
}

// PushIndex uploads a multi-platform index as HOST/repoTag.
func (r *Registry) PushIndex(t testing.TB, repoTag string, idx v1.ImageIndex) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(r.Host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx, r.options()...); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return ref
}

// DockerConfig writes a Docker client config holding the registry's
// credentials for host (the registry's, or a proxy's in front of it) and
// returns its directory, for DOCKER_CONFIG.
func (r *Registry) DockerConfig(t testing.TB, host, password string) string {
	t.Helper()
	dir := t.TempDir()
	auth := base64String(r.User + ":" + password)
	write(t, filepath.Join(dir, "config.json"), []byte(fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, host, auth)))
	return dir
}

func certificates(t testing.TB) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "peel test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// freeAddr finds a free port on 127.0.0.1.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func write(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
