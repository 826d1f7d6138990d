package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	ggcrremote "github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/notaryproject/notation-go"
	notationreg "github.com/notaryproject/notation-go/registry"
	"github.com/notaryproject/notation-go/signer"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/internal/regtest"
	"github.com/peelscan/peel/report"
)

// cosignBin finds the cosign CLI: PEEL_COSIGN (the Makefile sets it to
// make signing-tools' build), or the PATH. Without it the test is skipped
// (under CI=true it fails).
func cosignBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PEEL_COSIGN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("PEEL_COSIGN: %v", err)
		}
		return p
	}
	if p, err := exec.LookPath("cosign"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("cosign not found: CI must build it (make signing-tools)")
	}
	t.Skip("cosign not found: make signing-tools builds it (then make test or make e2e use it)")
	return ""
}

// notationBin finds the notation CLI: PEEL_NOTATION (the Makefile sets it
// to make signing-tools' build), or the PATH; skipped without it, failing
// under CI=true.
func notationBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PEEL_NOTATION"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("PEEL_NOTATION: %v", err)
		}
		return p
	}
	if p, err := exec.LookPath("notation"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("notation not found: CI must build it (make signing-tools)")
	}
	t.Skip("notation not found: make signing-tools builds it (then make test or make e2e use it)")
	return ""
}

// cosignRun runs the cosign CLI against the test registry, offline: no
// transparency log, no TUF root, the registry's CA through SSL_CERT_FILE
// and its credentials through the Docker config.
func cosignRun(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestRealRegistrySignatures signs images in the distribution registry
// (Debian's docker-registry 2.8, which has no referrers API) with the real
// cosign CLI, in the legacy tag scheme and as a bundle referrer (stored
// under the referrers tag sha256-<digest>), with the real notation CLI,
// and with notation-go's own signing API, then scans them: each signature
// with its kind and signer, verified with the right key or trust policy
// and not with a wrong one; an unsigned image unsigned;
// --require-signature failing the unsigned and passing the verified; the
// signed v1 image signed and still failing on its four secrets.
func TestRealRegistrySignatures(t *testing.T) {
	reg := regtest.Start(t)
	cosign := cosignBin(t)
	notationCLI := notationBin(t)
	dir := t.TempDir()
	dockerCfg := reg.DockerConfig(t, reg.Host, reg.Password)
	env := []string{"DOCKER_CONFIG=" + dockerCfg, "SSL_CERT_FILE=" + reg.CAFile, "HOME=" + dir, "TUF_ROOT=" + filepath.Join(dir, "tuf"), "COSIGN_YES=true"}
	auth := []string{"DOCKER_CONFIG=" + dockerCfg}

	v1img, err := fixture.STSv1()
	if err != nil {
		t.Fatal(err)
	}
	v2img, err := fixture.STSv2()
	if err != nil {
		t.Fatal(err)
	}
	// Repositories of their own on every run: a registry make e2e started
	// may have served an earlier one.
	suffix := time.Now().Format("150405.000000")
	push := func(repo string, img v1.Image) string {
		ref := reg.Push(t, repo+"-"+suffix+":latest", img)
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return ref.Context().Name() + "@" + d.String()
	}
	legacy := push("signed/legacy", v1img)
	bundle := push("signed/bundle", v2img)
	notary := push("signed/notation", v2img)
	notaryCLI := push("signed/notation-cli", v2img)
	unsigned := push("unsigned/app", v2img)

	// Two cosign key pairs: the signer's and another.
	keys := map[string]string{}
	for _, who := range []string{"signer", "other"} {
		kd := filepath.Join(dir, who)
		os.MkdirAll(kd, 0o700)
		cmd := exec.Command(cosign, "generate-key-pair")
		cmd.Dir = kd
		cmd.Env = append(os.Environ(), append(env, "COSIGN_PASSWORD="+who+"-cosign-pass")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
		}
		keys[who] = kd
	}
	signEnv := append(env, "COSIGN_PASSWORD=signer-cosign-pass")
	key := filepath.Join(keys["signer"], "cosign.key")
	cosignRun(t, cosign, signEnv, "sign", "--key", key, "--tlog-upload=false", "--yes", legacy)
	cosignRun(t, cosign, signEnv, "sign", "--key", key, "--tlog-upload=false", "--new-bundle-format", "--yes", bundle)
	rightKey, wrongKey := filepath.Join(keys["signer"], "cosign.pub"), filepath.Join(keys["other"], "cosign.pub")

	// Notation: a CA, a code-signing leaf it issued, the signature pushed
	// as a referrer by notation-go (through oras, which keeps the
	// referrers tag on a registry without the referrers API); and two
	// trust configurations, one trusting that CA and one another.
	nsigner, leafSubject, rootPEM := notationSigner(t)
	notationSign(t, nsigner, registryRepository(t, reg, notary), notary)
	trusted := notationConfig(t, filepath.Join(dir, "trusted"), rootPEM, "*")
	untrusted := notationConfig(t, filepath.Join(dir, "untrusted"), newCA(t, "someone else's CA").certPEM, "*")
	elsewhere := notationConfig(t, filepath.Join(dir, "elsewhere"), rootPEM, "registry.example/other")

	// The notation CLI: its own test key and certificate (notation cert
	// generate-test, which also trusts it in its trust store), a JWS
	// signature pushed to the registry (the referrers tag, as the registry
	// has no referrers API); peel verifies with the CLI's own
	// configuration directory and a trust policy naming that store.
	cliHome := filepath.Join(dir, "notation-cli")
	notationEnv := []string{"XDG_CONFIG_HOME=" + cliHome, "HOME=" + cliHome, "SSL_CERT_FILE=" + reg.CAFile,
		"NOTATION_USERNAME=" + reg.User, "NOTATION_PASSWORD=" + reg.Password}
	notationRun := func(args ...string) {
		t.Helper()
		cmd := exec.Command(notationCLI, args...)
		cmd.Env = append(os.Environ(), notationEnv...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("notation %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	notationRun("cert", "generate-test", "--default", "peel-cli")
	notationRun("sign", "--signature-format", "jws", notaryCLI)
	cliConfig := filepath.Join(cliHome, "notation")
	cliPolicy := `{"version": "1.0", "trustPolicies": [{"name": "peel-cli", "registryScopes": ["*"],
		"signatureVerification": {"level": "strict"}, "trustStores": ["ca:peel-cli"], "trustedIdentities": ["*"]}]}`
	if err := os.WriteFile(filepath.Join(cliConfig, "trustpolicy.json"), []byte(cliPolicy), 0o600); err != nil {
		t.Fatal(err)
	}

	scan := func(t *testing.T, args ...string) (*report.Report, run) {
		t.Helper()
		r := peelEnv(t, auth, "", append([]string{"scan", "-f", "json", "--ca-file", reg.CAFile}, args...)...)
		if r.code == 2 {
			t.Fatalf("peel %s: exit 2\n%s", strings.Join(args, " "), r.stderr)
		}
		return decode(t, r), r
	}
	only := func(t *testing.T, rep *report.Report) (*report.Signatures, report.Signature) {
		t.Helper()
		s := rep.Images[0].Signatures
		if s == nil || len(s.Found) != 1 {
			t.Fatalf("signatures: %+v", s)
		}
		return s, s.Found[0]
	}
	tagOf := func(ref string) string { return strings.Replace(ref[strings.Index(ref, "@")+1:], ":", "-", 1) }

	t.Run("cosign legacy tag, verified, v1 still fails", func(t *testing.T) {
		rep, r := scan(t, "--verify-key", wrongKey, "--verify-key", rightKey, legacy)
		s, sig := only(t, rep)
		if s.Status != "verified" || sig.Kind != "cosign" || !sig.Verified || sig.VerifiedBy != "cosign.pub" || sig.FoundBy != "tag "+tagOf(legacy)+".sig" {
			t.Errorf("status %s, signature %+v", s.Status, sig)
		}
		if sig.Signer == nil || !strings.HasPrefix(sig.Signer.Key, "sha256:") {
			t.Errorf("signer %+v", sig.Signer)
		}
		if r.code != 1 || len(rep.Images[0].Findings) != 4 {
			t.Errorf("the signed v1: exit %d, %d findings", r.code, len(rep.Images[0].Findings))
		}
		// A ping, the referrers API (404 here), the referrers tag, the
		// .sig tag and its one layer.
		if s.Requests > 5 {
			t.Errorf("the lookup took %d requests", s.Requests)
		}
		t.Logf("%d requests: %s", s.Requests, strings.Join(s.LookedAt, ", "))
	})
	t.Run("cosign legacy tag, wrong key", func(t *testing.T) {
		rep, _ := scan(t, "--verify-key", wrongKey, legacy)
		s, sig := only(t, rep)
		if s.Status != "signed" || sig.Verified || !strings.Contains(sig.Reason, "does not verify with cosign.pub") {
			t.Errorf("status %s, signature %+v", s.Status, sig)
		}
	})
	t.Run("cosign bundle referrer", func(t *testing.T) {
		rep, r := scan(t, "--verify-key", rightKey, bundle)
		s, sig := only(t, rep)
		if s.Status != "verified" || sig.Kind != "cosign-bundle" || !sig.Verified || sig.FoundBy != "referrers tag "+tagOf(bundle) ||
			!strings.HasPrefix(sig.MediaType, "application/vnd.dev.sigstore.bundle.v0.3") || sig.Signer == nil || sig.Signer.Key == "" {
			t.Errorf("status %s, signature %+v", s.Status, sig)
		}
		if r.code != 0 {
			t.Errorf("v2 signed: exit %d", r.code)
		}
		rep, _ = scan(t, "--verify-key", wrongKey, bundle)
		if _, sig := only(t, rep); sig.Verified || !strings.Contains(sig.Reason, "does not verify") {
			t.Errorf("wrong key: %+v", sig)
		}
	})
	t.Run("notation referrer", func(t *testing.T) {
		rep, _ := scan(t, "--notation-config", trusted, notary)
		s, sig := only(t, rep)
		if s.Status != "verified" || sig.Kind != "notation" || !sig.Verified || sig.Signer == nil || sig.Signer.Subject != leafSubject ||
			sig.FoundBy != "referrers tag "+tagOf(notary) || sig.VerifiedBy != "trust policy peel-test" {
			t.Errorf("status %s, signature %+v (signer %+v)", s.Status, sig, sig.Signer)
		}
		rep, _ = scan(t, "--notation-config", untrusted, notary)
		if s, sig := only(t, rep); s.Status != "signed" || sig.Verified {
			t.Errorf("untrusted CA: status %s, %+v", s.Status, sig)
		}
		rep, _ = scan(t, "--notation-config", elsewhere, notary)
		if _, sig := only(t, rep); sig.Verified || !strings.Contains(sig.Reason, "no trust policy statement applies to") {
			t.Errorf("a policy for other repositories: %+v", sig)
		}
		// A cosign key verifies no Notation signature.
		rep, _ = scan(t, "--verify-key", rightKey, notary)
		if _, sig := only(t, rep); sig.Verified || !strings.Contains(sig.Reason, "no --notation-config") {
			t.Errorf("with a cosign key only: %+v", sig)
		}
	})
	t.Run("notation CLI referrer", func(t *testing.T) {
		rep, r := scan(t, "--notation-config", cliConfig, notaryCLI)
		s, sig := only(t, rep)
		if s.Status != "verified" || sig.Kind != "notation" || !sig.Verified || sig.Signer == nil || !strings.Contains(sig.Signer.Subject, "CN=peel-cli") ||
			sig.FoundBy != "referrers tag "+tagOf(notaryCLI) || sig.VerifiedBy != "trust policy peel-cli" || r.code != 0 {
			t.Errorf("exit %d, status %s, signature %+v (signer %+v)", r.code, s.Status, sig, sig.Signer)
		}
		rep, _ = scan(t, "--notation-config", untrusted, notaryCLI)
		if s, sig := only(t, rep); s.Status != "signed" || sig.Verified {
			t.Errorf("another CA: status %s, %+v", s.Status, sig)
		}
		if _, r := scan(t, "--require-signature", "--notation-config", cliConfig, notaryCLI); r.code != 0 {
			t.Errorf("--require-signature, verified: exit %d\n%s", r.code, r.stdout)
		}
		if _, r := scan(t, "--require-signature", "--notation-config", untrusted, notaryCLI); r.code != 1 {
			t.Errorf("--require-signature, another CA: exit %d\n%s", r.code, r.stdout)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		rep, r := scan(t, "--verify-key", rightKey, unsigned)
		// A ping, the referrers API, the referrers tag, the .sig tag.
		if s := rep.Images[0].Signatures; s == nil || s.Status != "unsigned" || len(s.Found) != 0 || r.code != 0 || s.Requests != 4 {
			t.Errorf("exit %d, signatures %+v", r.code, s)
		}
	})
	t.Run("require-signature", func(t *testing.T) {
		rep, r := scan(t, "--require-signature", "--verify-key", rightKey, unsigned)
		fs := rep.Images[0].Findings
		if r.code != 1 || len(fs) != 1 || fs[0].Rule != "unsigned-image" || fs[0].Key != "unsigned" || fs[0].Severity.String() != "high" {
			t.Errorf("unsigned: exit %d, findings %+v", r.code, fs)
		}
		if _, r := scan(t, "--require-signature", "--verify-key", rightKey, bundle); r.code != 0 {
			t.Errorf("verified: exit %d\n%s", r.code, r.stdout)
		}
		if _, r := scan(t, "--require-signature", "--notation-config", trusted, notary); r.code != 0 {
			t.Errorf("notation verified: exit %d\n%s", r.code, r.stdout)
		}
		rep, r = scan(t, "--require-signature", "--verify-key", wrongKey, bundle)
		if fs := rep.Images[0].Findings; r.code != 1 || len(fs) != 1 || fs[0].Key != "no signature verifies" {
			t.Errorf("wrong key: exit %d, findings %+v", r.code, fs)
		}
		// In SARIF: the result, and the signatures in the run's properties.
		r = peelEnv(t, auth, "", "scan", "-f", "sarif", "--ca-file", reg.CAFile, "--require-signature", "--verify-key", rightKey, unsigned, bundle)
		var log struct {
			Runs []struct {
				Results []struct {
					RuleID string `json:"ruleId"`
				} `json:"results"`
				Properties struct {
					Signatures []struct {
						Image, Status string
					} `json:"signatures"`
				} `json:"properties"`
			} `json:"runs"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &log); err != nil || len(log.Runs) != 1 {
			t.Fatalf("SARIF: %v\n%s", err, r.stdout)
		}
		run := log.Runs[0]
		if r.code != 1 || len(run.Results) != 1 || run.Results[0].RuleID != "unsigned-image" ||
			len(run.Properties.Signatures) != 2 || run.Properties.Signatures[0].Status != "unsigned" || run.Properties.Signatures[1].Status != "verified" {
			t.Errorf("SARIF: exit %d, %+v", r.code, run)
		}
		// The table says it too.
		r = peelEnv(t, auth, "", "scan", "--ca-file", reg.CAFile, "--verify-key", rightKey, bundle)
		if !strings.Contains(r.stdout, "signatures: verified, 1 found") || !strings.Contains(r.stdout, "cosign-bundle sha256:") {
			t.Errorf("table:\n%s", r.stdout)
		}
	})
	t.Run("a signature copied from another image", func(t *testing.T) {
		// Anyone who may push to the repository can attach the v1 image's
		// valid signature to another image: it verifies, and signs the
		// other digest.
		copied := push("copied/app", v2img)
		src, err := name.ParseReference(legacy[:strings.Index(legacy, "@")] + ":" + tagOf(legacy) + ".sig")
		if err != nil {
			t.Fatal(err)
		}
		opts := []ggcrremote.Option{ggcrremote.WithAuth(&authn.Basic{Username: reg.User, Password: reg.Password}), ggcrremote.WithTransport(reg.Transport)}
		sigImg, err := ggcrremote.Image(src, opts...)
		if err != nil {
			t.Fatal(err)
		}
		dst, _ := name.ParseReference(copied[:strings.Index(copied, "@")] + ":" + tagOf(copied) + ".sig")
		if err := ggcrremote.Write(dst, sigImg, opts...); err != nil {
			t.Fatal(err)
		}
		rep, r := scan(t, "--require-signature", "--verify-key", rightKey, copied)
		_, sig := only(t, rep)
		if sig.Verified || !strings.Contains(sig.Reason, "a signature copied from another image") || r.code != 1 {
			t.Errorf("exit %d, %+v", r.code, sig)
		}
	})
	t.Run("referrers API", func(t *testing.T) {
		// go-containerregistry's registry, which has the referrers API
		// distribution 2.8 lacks, over plain HTTP on 127.0.0.1.
		srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0))))
		defer srv.Close()
		host := strings.TrimPrefix(srv.URL, "http://")
		ref, _ := name.ParseReference(host + "/api/app:latest")
		if err := ggcrremote.Write(ref, v2img, ggcrremote.WithTransport(http.DefaultTransport)); err != nil {
			t.Fatal(err)
		}
		d, _ := v2img.Digest()
		target := host + "/api/app@" + d.String()
		cosignRun(t, cosign, signEnv, "sign", "--key", key, "--tlog-upload=false", "--new-bundle-format", "--yes", target)
		rep, _ := scan(t, "--verify-key", rightKey, target)
		s, sig := only(t, rep)
		if sig.FoundBy != "referrers API" || !sig.Verified || s.LookedAt[0] != "referrers API" {
			t.Errorf("%+v, %+v", s, sig)
		}
	})
	t.Run("OCI layout from cosign save", func(t *testing.T) {
		out := filepath.Join(dir, "saved")
		cosignRun(t, cosign, env, "save", "--dir", out, legacy)
		rep, r := scan(t, "--verify-key", rightKey, "oci:"+out)
		s, sig := only(t, rep)
		if s.Status != "verified" || sig.Kind != "cosign" || r.code != 1 || len(rep.Images[0].Findings) != 4 {
			t.Errorf("exit %d, status %s, %+v", r.code, s.Status, sig)
		}
	})
	t.Run("OCI layout signed with notation-go", func(t *testing.T) {
		out := filepath.Join(dir, "notation-layout")
		lp, err := layout.Write(out, empty.Index)
		if err != nil {
			t.Fatal(err)
		}
		if err := lp.AppendImage(v2img); err != nil {
			t.Fatal(err)
		}
		repo, err := notationreg.NewOCIRepository(out, notationreg.RepositoryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d, _ := v2img.Digest()
		notationSign(t, nsigner, repo, d.String())
		rep, r := scan(t, "--require-signature", "--notation-config", trusted, "oci:"+out)
		s, sig := only(t, rep)
		if s.Status != "verified" || sig.Kind != "notation" || sig.FoundBy != "OCI layout index" || sig.Signer == nil || sig.Signer.Subject != leafSubject || r.code != 0 {
			t.Errorf("exit %d, status %s, %+v\n%s", r.code, s.Status, sig, r.stderr)
		}
	})
	t.Run("a cosign key and its passphrase in an image", func(t *testing.T) {
		keyPEM, err := os.ReadFile(key)
		if err != nil {
			t.Fatal(err)
		}
		img, err := fixture.Image{
			Env:    []string{"COSIGN_PASSWORD=signer-cosign-pass"},
			Layers: []fixture.Layer{{Tar: fixture.Tar(fixture.File{Name: "root/.sigstore/cosign.key", Data: keyPEM})}},
		}.Build()
		if err != nil {
			t.Fatal(err)
		}
		ref := push("leaky/signer", img)
		rep, r := scan(t, ref)
		var got []string
		for _, f := range rep.Images[0].Findings {
			got = append(got, f.Rule+" "+f.Severity.String()+" "+f.Location+" "+f.VerifiedBy)
			if !f.Verified {
				t.Errorf("%s is not verified", f.Rule)
			}
		}
		want := []string{"signing-passphrase critical config Env COSIGN_PASSWORD ", "cosign-key critical /root/.sigstore/cosign.key:1 config Env COSIGN_PASSWORD"}
		if r.code != 1 || strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("exit %d, findings %q", r.code, got)
		}
	})
}

// ca is a certificate authority made for a test.
type ca struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

func newCA(t *testing.T, cn string) ca {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Organization: []string{"peel"}, Country: []string{"US"}, Province: []string{"WA"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return ca{cert: c, key: k, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// notationSigner is a Notation signer of notation-go's: a code-signing
// certificate from a CA made here, with its key. It returns the signer,
// the certificate's subject and the CA's certificate.
func notationSigner(t *testing.T) (notation.Signer, string, []byte) {
	t.Helper()
	root := newCA(t, "peel test notation CA")
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "peel signer", Organization: []string{"peel"}, Country: []string{"US"}, Province: []string{"WA"}},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root.cert, &k.PublicKey, root.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	s, err := signer.NewGenericSigner(k, []*x509.Certificate{leaf, root.cert})
	if err != nil {
		t.Fatal(err)
	}
	return s, leaf.Subject.String(), root.certPEM
}

// registryRepository is the test registry's repository of ref, for
// notation-go's registry package (over oras, which keeps the referrers
// tag on a registry without the referrers API).
func registryRepository(t *testing.T, reg *regtest.Registry, ref string) notationreg.Repository {
	t.Helper()
	d, err := name.NewDigest(ref)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := remote.NewRepository(d.Context().Name())
	if err != nil {
		t.Fatal(err)
	}
	repo.Client = &auth.Client{
		Client:     &http.Client{Transport: reg.Transport},
		Credential: auth.StaticCredential(reg.Host, auth.Credential{Username: reg.User, Password: reg.Password}),
	}
	return notationreg.NewRepository(repo)
}

// notationSign signs ref with notation-go's signing API, a JWS envelope
// pushed into repo as a referrer.
func notationSign(t *testing.T, s notation.Signer, repo notationreg.Repository, ref string) {
	t.Helper()
	_, err := notation.Sign(context.Background(), s, repo, notation.SignOptions{
		SignerSignOptions: notation.SignerSignOptions{SignatureMediaType: "application/jose+json"},
		ArtifactReference: ref,
	})
	if err != nil {
		t.Fatalf("notation-go signing %s: %v", ref, err)
	}
}

// notationConfig writes a Notation configuration directory trusting
// caPEM for the repositories of scope: truststore/x509/ca/peel-test/ca.pem
// and a trust policy.
func notationConfig(t *testing.T, dir string, caPEM []byte, scope string) string {
	t.Helper()
	store := filepath.Join(dir, "truststore", "x509", "ca", "peel-test")
	if err := os.MkdirAll(store, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(store, "ca.pem"), caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	policy := `{"version": "1.0", "trustPolicies": [{"name": "peel-test", "registryScopes": ["` + scope + `"],
		"signatureVerification": {"level": "strict"}, "trustStores": ["ca:peel-test"], "trustedIdentities": ["*"]}]}`
	if err := os.WriteFile(filepath.Join(dir, "trustpolicy.json"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}
