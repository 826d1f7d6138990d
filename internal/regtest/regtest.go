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

// Environment variables naming a registry already running, as
// testdata/registry (make e2e, .ci/run) starts one; Start uses it when set.
const (
	EnvHost     = "PEEL_TEST_REGISTRY"
	EnvCA       = "PEEL_TEST_REGISTRY_CA"
	EnvUser     = "PEEL_TEST_REGISTRY_USER"
	EnvPassword = "PEEL_TEST_REGISTRY_PASSWORD"
)

// Start returns the registry for a test: the one the environment names
// (EnvHost …), or one it runs itself and stops when the test ends. Without
// either it skips the test, naming the package to install (under CI=true
// it fails instead).
func Start(t testing.TB) *Registry {
	t.Helper()
	if host := os.Getenv(EnvHost); host != "" {
		r, err := fromEnv(host)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if _, err := exec.LookPath(Binary); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: CI must install the Debian package %s (.ci/run does)", Binary, Package)
		}
		t.Skipf("%s not found: install the Debian package %s to run the registry tests", Binary, Package)
	}
	r, stop, err := Launch(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return r
}

// StartPrivate runs a registry of the test's own, even when the
// environment names one: a test that lists the whole catalog needs a
// registry no other test fills. It skips as Start does.
func StartPrivate(t testing.TB) *Registry {
	t.Helper()
	if _, err := exec.LookPath(Binary); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: CI must install the Debian package %s (.ci/run does)", Binary, Package)
		}
		t.Skipf("%s not found: install the Debian package %s to run the registry tests", Binary, Package)
	}
	r, stop, err := Launch(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return r
}

func fromEnv(host string) (*Registry, error) {
	r := &Registry{Host: host, CAFile: os.Getenv(EnvCA), User: os.Getenv(EnvUser), Password: os.Getenv(EnvPassword)}
	ca, err := os.ReadFile(r.CAFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvCA, err)
	}
	r.Transport = trusting(ca)
	return r, nil
}

func trusting(caPEM []byte) http.RoundTripper {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return tr
}

// Env is the registry as environment assignments for a shell, one per line.
func (r *Registry) Env() string {
	return fmt.Sprintf("export %s=%s\nexport %s=%s\nexport %s=%s\nexport %s=%s\n",
		EnvHost, r.Host, EnvCA, r.CAFile, EnvUser, r.User, EnvPassword, r.Password)
}

// Launch runs the distribution registry on a free port of 127.0.0.1, with
// TLS from a certificate authority made for it and htpasswd auth, its files
// in dir. stop kills it; the kernel kills it too when the caller's process
// dies, however it dies.
func Launch(dir string) (r *Registry, stop func(), err error) {
	bin, err := exec.LookPath(Binary)
	if err != nil {
		return nil, nil, fmt.Errorf("%s not found: install the Debian package %s", Binary, Package)
	}
	r = &Registry{User: "peel", Password: "peel-test-registry-pw", CAFile: filepath.Join(dir, "ca.pem")}
	caPEM, certPEM, keyPEM, err := certificates()
	if err != nil {
		return nil, nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(r.Password), bcrypt.MinCost)
	if err != nil {
		return nil, nil, err
	}
	if r.Host, err = freeAddr(); err != nil {
		return nil, nil, err
	}
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
	for name, data := range map[string][]byte{
		"ca.pem": caPEM, "server.crt": certPEM, "server.key": keyPEM,
		"htpasswd": []byte(r.User + ":" + string(hash) + "\n"), "config.yml": []byte(cfg),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, nil, err
		}
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("starting %s: %w", Binary, err)
	}
	stop = func() {
		cmd.Process.Kill()
		cmd.Wait()
	}
	r.Transport = trusting(caPEM)
	client := &http.Client{Transport: r.Transport, Timeout: time.Second}
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := client.Get("https://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return r, stop, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return nil, nil, fmt.Errorf("%s did not come up on %s: %v\n%s", Binary, r.Host, err, logs.String())
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

// Certificates makes a certificate authority and a certificate for
// 127.0.0.1 and localhost it signed, valid for a day, for other servers of
// the tests (redistest's TLS).
func Certificates() (caPEM, certPEM, keyPEM []byte, err error) { return certificates() }

func certificates() (caPEM, certPEM, keyPEM []byte, err error) {
	now := time.Now()
	return certificatesFor(now.Add(-time.Hour), now.Add(24*time.Hour))
}

// certificatesFor makes a CA and a certificate for 127.0.0.1 and
// localhost it signed, valid from notBefore to notAfter.
func certificatesFor(notBefore, notAfter time.Time) (caPEM, certPEM, keyPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "peel test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: notBefore, NotAfter: notAfter,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
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

func write(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
