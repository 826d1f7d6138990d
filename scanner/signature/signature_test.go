package signature

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"

	"github.com/peelscan/peel/scanner"
)

// The end-to-end test (cmd/peel/signatures_test.go) signs with the real
// cosign CLI and notation-go; these check what a registry or a layout can
// do wrong, with legacy cosign signatures made here as cosign makes them.

// legacySig is a .sig image holding one cosign signature of digest by key.
func legacySig(t *testing.T, key *ecdsa.PrivateKey, digest v1.Hash) v1.Image {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{"critical": map[string]any{
		"identity": map[string]string{"docker-reference": "example/app"},
		"image":    map[string]string{"docker-manifest-digest": digest.String()},
		"type":     "cosign container image signature"}, "optional": nil})
	h := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:       static.NewLayer(payload, cosignSimpleSigning),
		Annotations: map[string]string{annotationSignature: base64.StdEncoding.EncodeToString(sig)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func pubKey(t *testing.T, k *ecdsa.PrivateKey, name string) Key {
	t.Helper()
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	key, err := ParseKey(name, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// registryWith serves go-containerregistry's registry (no referrers API)
// behind fail, which may answer a request itself.
func registryWith(t *testing.T, fail func(w http.ResponseWriter, r *http.Request) bool) string {
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail == nil || !fail(w, r) {
			reg.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func subject(t *testing.T, host string, img v1.Image) *scanner.SignatureSubject {
	t.Helper()
	d, _ := img.Digest()
	ref, _ := name.ParseReference(host + "/app@" + d.String())
	return &scanner.SignatureSubject{Kind: scanner.KindRegistry, Digest: d, Ref: ref, Transport: http.DefaultTransport}
}

func TestRegistry(t *testing.T) {
	signer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	img, _ := random.Image(64, 1)
	elsewhere, _ := random.Image(64, 1)
	d, _ := img.Digest()
	de, _ := elsewhere.Digest()
	tag := func(host string, d v1.Hash) name.Reference {
		r, _ := name.ParseReference(host + "/app:" + strings.Replace(d.String(), ":", "-", 1) + ".sig")
		return r
	}
	write := func(t *testing.T, ref name.Reference, img v1.Image) {
		t.Helper()
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	c := New(Options{Keys: []Key{pubKey(t, other, "other.pub"), pubKey(t, signer, "cosign.pub")}})

	t.Run("verified, then copied to another image", func(t *testing.T) {
		host := registryWith(t, nil)
		write(t, tag(host, d), legacySig(t, signer, d))
		got := c.Check(context.Background(), subject(t, host, img))
		// Over plain HTTP the ping is tried with TLS first: one request
		// more than on a TLS registry.
		if got.Status() != "verified" || len(got.Found) != 1 || got.Found[0].VerifiedBy != "cosign.pub" || got.Requests != 6 {
			t.Fatalf("%+v", got)
		}
		// The same signature under the other image's tag: it verifies,
		// and signs the first image.
		write(t, tag(host, de), legacySig(t, signer, d))
		got = c.Check(context.Background(), subject(t, host, elsewhere))
		if got.Status() != "signed" || !strings.Contains(got.Found[0].Reason, "copied from another image") {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		host := registryWith(t, nil)
		write(t, tag(host, d), legacySig(t, other, d))
		got := New(Options{Keys: []Key{pubKey(t, signer, "cosign.pub")}}).Check(context.Background(), subject(t, host, img))
		if got.Status() != "signed" || !strings.Contains(got.Found[0].Reason, "does not verify with cosign.pub") {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		host := registryWith(t, nil)
		got := c.Check(context.Background(), subject(t, host, img))
		if got.Status() != "unsigned" || got.Error != "" || got.Requests != 5 {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("the registry fails", func(t *testing.T) {
		host := registryWith(t, func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/manifests/sha256-") {
				http.Error(w, "boom", http.StatusInternalServerError)
				return true
			}
			return false
		})
		got := c.Check(context.Background(), subject(t, host, img))
		if got.Status() != "unknown" || !strings.Contains(got.Error, "500") {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("a payload that does not match its digest", func(t *testing.T) {
		host := registryWith(t, func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
				w.Write([]byte(`{"critical":{"image":{"docker-manifest-digest":"sha256:forged"}}}`))
				return true
			}
			return false
		})
		write(t, tag(host, d), legacySig(t, signer, d))
		got := c.Check(context.Background(), subject(t, host, img))
		if len(got.Found) != 1 || got.Found[0].Verified || !strings.HasPrefix(got.Found[0].Reason, "not read:") {
			t.Fatalf("%+v", got)
		}
	})
}

func TestLayout(t *testing.T) {
	signer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	img, _ := random.Image(64, 1)
	d, _ := img.Digest()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	p.AppendImage(img)
	sig := legacySig(t, signer, d)
	p.AppendImage(sig, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": strings.Replace(d.String(), ":", "-", 1) + ".sig"}))
	idx, _ := p.ImageIndex()
	subj := &scanner.SignatureSubject{Kind: scanner.KindOCI, Digest: d, Layout: idx, Name: dir}
	c := New(Options{Keys: []Key{pubKey(t, signer, "cosign.pub")}})
	if got := c.Check(context.Background(), subj); got.Status() != "verified" || got.Found[0].FoundBy != "tag "+strings.Replace(d.String(), ":", "-", 1)+".sig" {
		t.Fatalf("%+v", got)
	}
	// A layout's blobs are not checked on read by go-containerregistry:
	// the lookup checks them.
	ls, _ := sig.Layers()
	ld, _ := ls[0].Digest()
	if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", ld.Hex), []byte(`{"tampered":true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	got := c.Check(context.Background(), subj)
	if len(got.Found) != 1 || got.Found[0].Verified || !strings.Contains(got.Found[0].Reason, "does not match its digest") {
		t.Fatalf("%+v", got)
	}
}

func TestLoading(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "cosign.pub")
	os.WriteFile(bad, []byte("not a key"), 0o600)
	if _, err := LoadKey(bad); err == nil || !strings.Contains(err.Error(), "not a PEM public key") {
		t.Errorf("LoadKey: %v", err)
	}
	if _, err := LoadNotation(dir); err == nil || !strings.Contains(err.Error(), "no trust policy") {
		t.Errorf("LoadNotation: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "trustpolicy.json"), []byte(`{"version": "1.0", "trustPolicies": []}`), 0o600)
	if _, err := LoadNotation(dir); err == nil {
		t.Error("LoadNotation took a policy without statements")
	}
}
