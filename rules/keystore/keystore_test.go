package keystore

import (
	"encoding/asn1"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/peelscan/peel/internal/testkeys"
)

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
			k.Open(tc.candidates)
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
		if k.tryPassword("wrong-pw-1") {
			t.Errorf("%s: a wrong password opened the store", name)
		}
		if !k.tryPassword("right-pw-1") {
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

func TestPKCS12IterationLimits(t *testing.T) {
	p := testkeys.PKCS12("pw-123456", "k")
	k, err := Inspect(p)
	if err != nil {
		t.Fatal(err)
	}
	if k.iterations < 1000 || k.iterations > 100_000 {
		t.Fatalf("iterations read as %d", k.iterations)
	}
	// Re-encode the file with a huge MAC iteration count.
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
	pfx.MacData.Iterations = 1<<31 - 1
	hostile, err := asn1.Marshal(pfx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Inspect(hostile); err == nil || !strings.Contains(err.Error(), "iteration count 2147483647") {
		t.Errorf("hostile iteration count: err = %v", err)
	}
	// An expensive but allowed count limits the number of tries.
	k.iterations = pkcs12WorkBudget / 3
	many := []Candidate{{Password: "a1"}, {Password: "a2"}, {Password: "a3"}, {Password: "a4"}}
	if k.Open(many) || k.Untried == 0 {
		t.Errorf("opened=%v untried=%d; want the budget to stop the tries", k.Opened, k.Untried)
	}
}
