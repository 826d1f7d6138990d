package report

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"

	"github.com/peelscan/peel/scanner"
)

// Fingerprint modes, as the JSON report's fingerprints.mode names them.
const (
	// FingerprintsByLocation hash where a finding is, nothing of its
	// secret.
	FingerprintsByLocation = "location"
	// FingerprintsKeyed are HMACs, under a key the user keeps, of where a
	// finding is and of its secret.
	FingerprintsKeyed = "keyed"
)

// MinFingerprintKey is the shortest fingerprint key accepted, in bytes: a
// key that can be guessed gives the secrets back as an unkeyed hash would.
const MinFingerprintKey = 16

// Fingerprints says how a report's fingerprints were made, so that a
// baseline made one way is not compared with fingerprints made another.
type Fingerprints struct {
	Mode string `json:"mode"` // FingerprintsByLocation or FingerprintsKeyed
	// KeyID names the key of keyed fingerprints without revealing it: an
	// HMAC under the key of a fixed text.
	KeyID string `json:"key_id,omitempty"`
}

func fingerprintsOf(key []byte) Fingerprints {
	if len(key) == 0 {
		return Fingerprints{Mode: FingerprintsByLocation}
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("peel fingerprint key id"))
	return Fingerprints{Mode: FingerprintsKeyed, KeyID: hex.EncodeToString(m.Sum(nil))[:16]}
}

// Fingerprint identifies a finding across rebuilds, as 32 hex digits.
//
// Without a key it hashes what locates the finding: the rule, the location
// chain without line or layer, the key, and the occurrence (1 for the first
// finding of that rule, chain and key in the image, 2 for the next, in
// layer and line order), and nothing of the secret: a reader of a redacted
// report cannot confirm a guess of it, and a rotated value at the same
// place keeps its fingerprint.
//
// With a key, it is an HMAC-SHA256 under the key of the rule, chain, key
// and secret (not the occurrence, which the secret makes unneeded): a new
// value at the same place gets a new fingerprint, and only a holder of the
// key can test a guess. Either way a moved layer or shifted lines keep it.
func Fingerprint(f *scanner.Finding, occurrence int, key []byte) string {
	var h hash.Hash
	parts := []string{f.RuleID, strings.Join(f.Path, "!"), f.Key}
	if len(key) > 0 {
		h = hmac.New(sha256.New, key)
		h.Write([]byte("peel-fingerprint/2 keyed\x00"))
		parts = append(parts, f.Secret)
	} else {
		h = sha256.New()
		h.Write([]byte("peel-fingerprint/2 location\x00"))
		parts = append(parts, fmt.Sprint(occurrence))
	}
	for _, part := range parts {
		fmt.Fprintf(h, "%d:%s", len(part), part)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// occurrence counts the findings of an image with f's rule, chain and key,
// f included.
func occurrence(seen map[string]int, f *scanner.Finding) int {
	k := f.RuleID + "\x00" + strings.Join(f.Path, "!") + "\x00" + f.Key
	seen[k]++
	return seen[k]
}
