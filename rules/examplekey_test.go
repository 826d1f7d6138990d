package rules

import (
	"crypto/sha256"
	"encoding/json"
	"encoding/pem"
	"testing"

	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/scrypt"
)

// exampleCosignKey is a cosign private key for the examples and tests:
// the example Ed25519 key of seed encrypted under passphrase in cosign's
// format (go-securesystemslib's: scrypt with its legacy parameters, then
// NaCl secretbox), with a salt and nonce derived from seed, so that the
// examples, and the engine version that hashes them, are the same on
// every run.
func exampleCosignKey(seed, passphrase string) []byte {
	salt := sha256.Sum256([]byte("salt:" + seed))
	nonce := sha256.Sum256([]byte("nonce:" + seed))
	key, err := scrypt.Key([]byte(passphrase), salt[:], 1<<15, 8, 1, 32)
	if err != nil {
		panic(err) // fixed, valid parameters: cannot fail
	}
	var k [32]byte
	var n [24]byte
	copy(k[:], key)
	copy(n[:], nonce[:])
	body, err := json.Marshal(map[string]any{
		"kdf":        map[string]any{"name": "scrypt", "params": map[string]int{"N": 1 << 15, "r": 8, "p": 1}, "salt": salt[:]},
		"cipher":     map[string]any{"name": "nacl/secretbox", "nonce": n[:]},
		"ciphertext": secretbox.Seal(nil, exampleKey(seed), &n, &k),
	})
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED SIGSTORE PRIVATE KEY", Bytes: body})
}

// TestExampleCosignKeyPEM: the catalogue's constant example key is the
// one exampleCosignKey makes.
func TestExampleCosignKeyPEM(t *testing.T) {
	if got := string(exampleCosignKey("example", "example-passphrase")); got != exampleCosignKeyPEM {
		t.Errorf("exampleCosignKeyPEM is stale; it should be:\n%q", got)
	}
}
