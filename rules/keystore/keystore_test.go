package keystore

import (
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/asn1"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	gopkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/internal/testkeys"
)

// hiddenMAC is the hostile corpus's PKCS#12 store whose MAC follows nodes
// DER nodes.
func hiddenMAC(nodes int, iterations int64) []byte { return fixture.HiddenMACPKCS12(nodes, iterations) }

func readKeytool(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/keytool/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKeystores(t *testing.T) {
	found := []Candidate{{Password: "springboot", Source: "app.jar!application.properties:3"}}
	cases := []struct {
		name       string
		data       []byte
		candidates []Candidate
		typ        Type
		fires      bool
		opened     bool
		source     string
		keys       []string // private-key aliases known without the password
		decrypts   []string
	}{
		{"go JKS, password found in the image", testkeys.JKS("springboot", "spring"), found,
			JKS, true, true, "app.jar!application.properties:3", []string{"spring"}, []string{"spring"}},
		{"go JKS, default password", testkeys.JKS("changeme", "a", "b"), nil,
			JKS, true, true, "default password list", []string{"a", "b"}, []string{"a", "b"}},
		{"go JKS, unknown password", testkeys.JKS("V3ry-unl1kely", "jwtkey"), found,
			JKS, true, false, "", []string{"jwtkey"}, nil},
		{"trust store (cacerts) stays quiet", testkeys.TrustStore("changeit", "rootca1", "rootca2"), nil,
			JKS, false, false, "", nil, nil},
		{"trust store with unknown password stays quiet", testkeys.TrustStore("not-a-default", "rootca1"), nil,
			JKS, false, false, "", nil, nil},
		{"keytool JKS (RSA)", readKeytool(t, "sts-keytool.jks"), found,
			JKS, true, true, "app.jar!application.properties:3", []string{"spring"}, []string{"spring"}},
		{"keytool PKCS#12 (JDK 17 PBES2/AES)", readKeytool(t, "jwt-keytool.p12"), found,
			PKCS12, true, true, "app.jar!application.properties:3", []string{"jwtkey"}, []string{"jwtkey"}},
		{"keytool PKCS#12, unknown password", readKeytool(t, "jwt-keytool.p12"), []Candidate{{Password: "nope-nope"}},
			PKCS12, true, true, "default password list", []string{"jwtkey"}, []string{"jwtkey"}},
		{"go PKCS#12, unknown password", testkeys.PKCS12("V3ry-unl1kely", "k"), nil,
			PKCS12, true, false, "", []string{""}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Sniff(tc.data); got != tc.typ {
				t.Fatalf("Sniff = %v, want %v", got, tc.typ)
			}
			k, err := Inspect(tc.data)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if got := k.PrivateKeyAliases(); !reflect.DeepEqual(got, tc.keys) {
				t.Errorf("private-key aliases before opening = %q, want %q", got, tc.keys)
			}
			k.Open(context.Background(), tc.candidates, nil)
			if k.HoldsKeys() != tc.fires {
				t.Fatalf("HoldsKeys = %v, want %v", k.HoldsKeys(), tc.fires)
			}
			if !tc.fires {
				return
			}
			if k.Opened != tc.opened || k.Source != tc.source {
				t.Errorf("opened %v source %q, want %v %q", k.Opened, k.Source, tc.opened, tc.source)
			}
			if !reflect.DeepEqual(k.KeyDecrypts, tc.decrypts) {
				t.Errorf("KeyDecrypts = %q, want %q", k.KeyDecrypts, tc.decrypts)
			}
		})
	}
}

func TestKeystoreWrongPasswordDoesNotOpen(t *testing.T) {
	for name, data := range map[string][]byte{
		"jks":    testkeys.JKS("right-pw-1", "a"),
		"pkcs12": testkeys.PKCS12("right-pw-1", "a"),
	} {
		k, err := Inspect(data)
		if err != nil {
			t.Fatal(err)
		}
		if k.tryPassword(context.Background(), "wrong-pw-1", nil) {
			t.Errorf("%s: a wrong password opened the store", name)
		}
		if !k.tryPassword(context.Background(), "right-pw-1", nil) {
			t.Errorf("%s: the right password did not open the store", name)
		}
	}
}

func TestNotKeystores(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":       nil,
		"text":        []byte("server.port=8443\n"),
		"zip":         []byte("PK\x03\x04\x14\x00\x00\x00"),
		"short magic": {0xFE, 0xED, 0xFE, 0xED},
		"DER cert":    testkeys.NewKey("x", "x").Cert.Raw,
	} {
		if k, err := Inspect(data); k != nil || err != nil {
			t.Errorf("%s: Inspect = %v, %v; want nil, nil", name, k, err)
		}
	}
}

func TestMalformedKeystores(t *testing.T) {
	good := testkeys.JKS("pw-123456", "a")
	huge := append([]byte{}, good[:12]...)
	huge = append(huge, 0, 0, 0, 1, 0xff, 0xff) // tag 1, alias length 65535 past the end
	for name, data := range map[string][]byte{
		"truncated JKS":        good[:len(good)-30],
		"JKS alias overrun":    huge,
		"JKS bad version":      append([]byte{0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 9}, good[8:]...),
		"PKCS#12 header, junk": {0x30, 0x82, 0x01, 0x00, 0x02, 0x01, 0x03, 0x30, 0x01, 0x02},
	} {
		if _, err := Inspect(data); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

// withMACIterations re-encodes a PKCS#12 file with another MAC iteration
// count (its MAC then no longer matches any password).
func withMACIterations(t *testing.T, p []byte, n int64) []byte {
	t.Helper()
	var pfx struct {
		Version  int
		AuthSafe asn1.RawValue
		MacData  struct {
			Mac        asn1.RawValue
			Salt       []byte
			Iterations int64
		}
	}
	if _, err := asn1.Unmarshal(p, &pfx); err != nil {
		t.Fatal(err)
	}
	pfx.MacData.Iterations = n
	out, err := asn1.Marshal(pfx)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPKCS12IterationLimits: a count over the limit is refused wherever it
// sits, the MAC after 100 000 DER nodes included; an expensive but allowed
// one limits the tries on the store, and the scan's budget those on all
// stores together.
func TestPKCS12IterationLimits(t *testing.T) {
	ctx := context.Background()
	p := testkeys.PKCS12("pw-123456", "k")
	k, err := Inspect(p)
	if err != nil {
		t.Fatal(err)
	}
	if n := k.p12.mac.rounds; n < 1000 || n > 100_000 {
		t.Fatalf("MAC iterations read as %d", n)
	}
	if _, err := Inspect(withMACIterations(t, p, 1<<31-1)); err == nil || !strings.Contains(err.Error(), "MAC iteration count 2147483647 is over the limit of 1000000") {
		t.Errorf("hostile iteration count: err = %v", err)
	}
	if _, err := Inspect(hiddenMAC(100_000, 1<<40)); err == nil || !strings.Contains(err.Error(), "MAC iteration count 1099511627776 is over the limit") {
		t.Errorf("a MAC after 100 000 nodes: err = %v", err)
	}
	if _, err := Inspect(testkeys.PKCS12Iterations("pw-1", "k", MaxPKCS12Iterations+1)); err == nil || !strings.Contains(err.Error(), "iteration count 1000001 is over the limit") {
		t.Errorf("encryption iterations over the limit: err = %v", err)
	}

	// An allowed but expensive count: the store's own budget stops the
	// tries past pkcs12WorkBudget rounds.
	costly, err := Inspect(withMACIterations(t, p, MaxPKCS12Iterations))
	if err != nil {
		t.Fatal(err)
	}
	costly.p12.mac.rounds = pkcs12WorkBudget / 3 // as if; not run
	many := []Candidate{{Password: "a1"}, {Password: "a2"}, {Password: "a3"}, {Password: "a4"}}
	costly.data = nil
	costly.p12.mac.unsupported = "test: count, do not derive"
	if costly.Open(ctx, many, nil) || costly.Untried != len(many)+len(DefaultPasswords)-3 || costly.ScanBudget {
		t.Errorf("opened=%v untried=%d scan=%v; want the store's budget to stop all but 3 tries", costly.Opened, costly.Untried, costly.ScanBudget)
	}
	// The scan's budget, shared: two stores, room for five tries in all.
	w := NewWork(5 * int64(k.p12.mac.cost()))
	a, _ := Inspect(p)
	b, _ := Inspect(p)
	a.Open(ctx, many, w)
	b.Open(ctx, many, w)
	if tried := 2*(len(many)+len(DefaultPasswords)) - a.Untried - b.Untried; tried != 5 || !b.ScanBudget || w.Left() != 0 {
		t.Errorf("%d tries made over two stores (untried %d, %d; scan budget %v; %d left), want 5", tried, a.Untried, b.Untried, b.ScanBudget, w.Left())
	}
}

// TestPKCS12OpenStops: a try mid-derivation stops within a few
// milliseconds of its context's end.
func TestPKCS12OpenStops(t *testing.T) {
	k, err := Inspect(testkeys.PKCS12Iterations("not-tried-here", "k", MaxPKCS12Iterations))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(30*time.Millisecond, cancel)
	start := time.Now()
	var many []Candidate
	for i := 0; i < 50; i++ {
		many = append(many, Candidate{Password: fmt.Sprintf("p%d", i)})
	}
	if k.Open(ctx, many, nil) {
		t.Fatal("opened")
	}
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Errorf("Open returned %v after it was started, 30 ms before its context ended", d)
	}
}

// TestPKCS12MACAsGoPKCS12: peel's own MAC check agrees with go-pkcs12's
// on every encoder go-pkcs12 has (SHA-1, SHA-256 and PBMAC1 MACs, keys and
// certificates encrypted every way), keytool's store, empty passwords and
// passwords outside UCS-2.
func TestPKCS12MACAsGoPKCS12(t *testing.T) {
	key := testkeys.NewKey("mac", "mac.peel.test")
	stores := map[string][]byte{"keytool": readKeytool(t, "jwt-keytool.p12")}
	pws := map[string]string{"keytool": "springboot"}
	for name, enc := range map[string]*gopkcs12.Encoder{
		"LegacyRC2": gopkcs12.LegacyRC2, "LegacyDES": gopkcs12.LegacyDES, "Modern2023": gopkcs12.Modern2023, "Modern2026": gopkcs12.Modern2026,
	} {
		for _, pw := range []string{"right-pw-1", "", "pässwörd"} {
			b, err := enc.WithRand(testkeys.Reader(name+pw)).Encode(key.Private, key.Cert, nil, pw)
			if err != nil {
				t.Fatal(err)
			}
			stores[name+"/"+pw], pws[name+"/"+pw] = b, pw
		}
	}
	for name, data := range stores {
		k, err := Inspect(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, pw := range []string{pws[name], "wrong-pw-1", "", "right-pw-1", "pässwörd", "😀"} {
			ours, err := k.p12.mac.macMatches(context.Background(), pw)
			if err != nil {
				t.Fatal(err)
			}
			_, _, _, derr := gopkcs12.DecodeChain(data, pw)
			if theirs := derr == nil; ours != theirs {
				t.Errorf("%s, password %q: peel says %v, go-pkcs12 %v (%v)", name, pw, ours, theirs, derr)
			}
		}
	}
}

// TestPBKDF2AsStandardLibrary: the interruptible PBKDF2 gives the standard
// library's keys.
func TestPBKDF2AsStandardLibrary(t *testing.T) {
	for _, keyLen := range []int{20, 32, 64, 100} {
		want, err := pbkdf2.Key(sha256.New, "pw", []byte("salt"), 1000, keyLen)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pbkdf2Key(context.Background(), sha256.New, []byte("pw"), []byte("salt"), 1000, keyLen)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("key length %d: %x, want %x (%v)", keyLen, got, want, err)
		}
	}
}
