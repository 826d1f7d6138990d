// Package keystore reads Java keystores (JKS, JCEKS, PKCS#12) as a scanner
// meets them, from strangers: it tells a keystore by its first bytes, lists
// what it shows without its password (aliases, which are private keys),
// and tries passwords on it, within bounds on its size and on the
// key-derivation work a PKCS#12 file can ask for. It knows nothing of
// findings: rules' keystore verifier decides what an opened store means.
package keystore

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"

	jks "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// Type is a Java keystore format, told apart by its first bytes.
type Type int

// Keystore formats peel recognizes.
const (
	None Type = iota
	JKS
	JCEKS
	PKCS12
)

// String returns the format's usual name.
func (t Type) String() string {
	switch t {
	case JKS:
		return "JKS"
	case JCEKS:
		return "JCEKS"
	case PKCS12:
		return "PKCS#12"
	}
	return "none"
}

// MaxSize bounds the bytes a keystore may have; the JDK's cacerts,
// the largest found in practice, is under 200 KiB.
const MaxSize = 4 << 20

// DefaultPasswords are tried on every keystore besides the passwords found
// in the image: the JDK's and common tutorials' defaults, and those that
// vendors publish for the stores they ship: Google's for its service
// account keys and API client trust stores (notasecret), Jetty's for its
// demo TLS keystore (storepwd).
var DefaultPasswords = []string{"changeit", "changeme", "password", "secret", "springboot", "123456", "keystore", "storepass", "notasecret", "storepwd", ""}

// Sniff tells a keystore format from the first bytes of a file
// (16 are enough), whatever its name.
func Sniff(head []byte) Type {
	if len(head) >= 8 {
		switch binary.BigEndian.Uint32(head) {
		case 0xFEEDFEED:
			return JKS
		case 0xCECECECE:
			return JCEKS
		}
	}
	if isPKCS12Header(head) {
		return PKCS12
	}
	return None
}

// isPKCS12Header matches the DER start of a PFX: SEQUENCE, a length, then
// INTEGER 3 (the version) and the SEQUENCE of the authSafe ContentInfo.
func isPKCS12Header(b []byte) bool {
	if len(b) < 8 || b[0] != 0x30 {
		return false
	}
	i := 2
	if b[1]&0x80 != 0 {
		n := int(b[1] & 0x7f)
		if n == 0 || n > 4 {
			return false
		}
		i += n
	}
	return len(b) >= i+4 && b[i] == 0x02 && b[i+1] == 0x01 && b[i+2] == 0x03 && b[i+3] == 0x30
}

// Entry is one alias in a keystore.
type Entry struct {
	Alias      string
	PrivateKey bool // a private key entry, as opposed to a trusted certificate or secret key
	SecretKey  bool // a JCEKS secret (symmetric) key entry
}

// Store is what can be told of a keystore file, before and after its
// password is found.
type Store struct {
	Type Type
	// Entries lists the aliases readable without the password: every entry
	// of a JKS, the entries before the first secret key of a JCEKS, and the
	// unencrypted bags of a PKCS#12.
	Entries []Entry
	// Complete says Entries lists every entry.
	Complete bool

	// Set by Open when a password opens the store.
	Opened   bool
	Password string
	Source   string // where the password was found, as the caller named it
	// KeyDecrypts lists the private-key aliases whose key decrypts with the
	// store password too: JKS tells this; a PKCS#12 store's keys are
	// protected by its password, and are all listed.
	KeyDecrypts []string
	// Untried counts the passwords Open did not try because their key
	// derivation would have gone past the store's own work budget or, when
	// ScanBudget is set, the scan's (the Work given to Open); 0 when all
	// were tried.
	Untried    int
	ScanBudget bool

	data []byte
	p12  *pkcs12Layout
}

// PrivateKeyAliases returns the aliases of the private-key entries.
func (k *Store) PrivateKeyAliases() []string {
	var out []string
	for _, e := range k.Entries {
		if e.PrivateKey {
			out = append(out, e.Alias)
		}
	}
	return out
}

// HoldsKeys reports whether the store holds key material (private or
// secret keys), or may: a store whose entries are not all known counts.
func (k *Store) HoldsKeys() bool {
	for _, e := range k.Entries {
		if e.PrivateKey || e.SecretKey {
			return true
		}
	}
	return !k.Complete
}

// ErrMalformed is returned for bytes that start like a keystore but
// do not parse as one.
var ErrMalformed = errors.New("malformed keystore")

// Inspect reads what a keystore shows without its password. It
// returns nil and no error for bytes that are not a keystore.
func Inspect(data []byte) (*Store, error) {
	t := Sniff(data)
	if t == None {
		return nil, nil
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s keystore of %d bytes exceeds the %d-byte limit", t, len(data), MaxSize)
	}
	k := &Store{Type: t, data: data}
	var err error
	switch t {
	case JKS, JCEKS:
		k.Entries, k.Complete, err = walkJKS(data)
	case PKCS12:
		if k.p12, err = readPKCS12(data); err == nil {
			k.Entries, k.Complete = k.p12.entries, k.p12.complete
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t, err)
	}
	return k, nil
}

// Candidate is a password to try on keystores and where it was found.
type Candidate struct {
	Password string
	Source   string
}

// Work is a budget of key-derivation rounds shared by the Opens of one
// scan, so that many stores and many passwords together cannot stall it.
// It is not safe for concurrent use.
type Work struct{ left int64 }

// DefaultWork is the key-derivation rounds a scan may spend: about ten
// seconds of SHA-1 or SHA-256.
const DefaultWork = 50_000_000

// NewWork returns a budget of rounds.
func NewWork(rounds int64) *Work { return &Work{left: rounds} }

// Left returns the rounds not spent yet.
func (w *Work) Left() int64 { return w.left }

// Open tries each candidate, then DefaultPasswords, on the keystore and
// records the first that opens it. It reports whether one did. The
// key derivations of a PKCS#12 store's tries are counted against the
// store's own budget and against work (nil: no scan-wide budget); a try
// either would exceed is not made (see Untried). It stops, opening
// nothing, when ctx ends, within a few milliseconds even mid-derivation.
func (k *Store) Open(ctx context.Context, candidates []Candidate, work *Work) bool {
	tried := make(map[string]bool, len(candidates)+len(DefaultPasswords))
	var cost int64
	storeLeft := int64(pkcs12WorkBudget)
	if k.p12 != nil {
		cost = k.p12.mac.cost()
	}
	try := func(pw, source string) bool {
		if tried[pw] || ctx.Err() != nil {
			return false
		}
		tried[pw] = true
		if cost > 0 {
			if work != nil && work.left < cost {
				k.Untried++
				k.ScanBudget = true
				return false
			}
			if storeLeft < cost {
				k.Untried++
				return false
			}
			storeLeft -= cost
			if work != nil {
				work.left -= cost
			}
		}
		if !k.tryPassword(ctx, pw, work) {
			return false
		}
		k.Opened, k.Password, k.Source = true, pw, source
		return true
	}
	for _, c := range candidates {
		if try(c.Password, c.Source) {
			return true
		}
	}
	for _, pw := range DefaultPasswords {
		if try(pw, "default password list") {
			return true
		}
	}
	return false
}

func (k *Store) tryPassword(ctx context.Context, pw string, work *Work) bool {
	switch k.Type {
	case JKS:
		return k.openJKS(pw)
	case JCEKS:
		return jksDigestMatches(k.data, pw)
	case PKCS12:
		return k.openPKCS12(ctx, pw, work)
	}
	return false
}

// openJKS loads the store with keystore-go, which checks the integrity
// digest, and then tries the store password on each private key.
func (k *Store) openJKS(pw string) bool {
	ks := jks.New(jks.WithCaseExactAliases())
	if err := ks.Load(bytes.NewReader(k.data), []byte(pw)); err != nil {
		return false
	}
	k.KeyDecrypts = nil
	for _, e := range k.Entries {
		if !e.PrivateKey {
			continue
		}
		if _, err := ks.GetPrivateKeyEntry(e.Alias, []byte(pw)); err == nil {
			k.KeyDecrypts = append(k.KeyDecrypts, e.Alias)
		}
	}
	return true
}

// jksDigestMatches checks the JKS/JCEKS integrity digest,
// SHA-1(password as UTF-16BE || "Mighty Aphrodite" || contents). It is
// written here because keystore-go reads only the JKS format, while the
// JCEKS digest is the same.
func jksDigestMatches(data []byte, pw string) bool {
	if len(data) < sha1.Size+12 {
		return false
	}
	h := sha1.New()
	for _, u := range utf16.Encode([]rune(pw)) {
		h.Write([]byte{byte(u >> 8), byte(u)})
	}
	h.Write([]byte("Mighty Aphrodite"))
	body := data[:len(data)-sha1.Size]
	h.Write(body)
	return bytes.Equal(h.Sum(nil), data[len(data)-sha1.Size:])
}

// openPKCS12 reports whether pw passes the store's MAC, which is what
// opening a PKCS#12 store with a password means. A store whose bags are
// not all in plain data is then decrypted with go-pkcs12 to tell a trust
// store (certificates only, no keys), if work allows its cost; the
// decryption is left to finish on its own if ctx ends first (its rounds
// are bounded by MaxPKCS12Iterations).
func (k *Store) openPKCS12(ctx context.Context, pw string, work *Work) bool {
	ok, err := k.p12.mac.macMatches(ctx, pw)
	if err != nil || !ok {
		return false
	}
	k.KeyDecrypts = k.PrivateKeyAliases()
	if k.Complete {
		return true
	}
	if cost := k.p12.mac.cost() + k.p12.decryptCost; work == nil || work.left >= cost {
		if work != nil {
			work.left -= cost
		}
		done := make(chan bool, 1)
		go func() {
			_, err := pkcs12.DecodeTrustStore(k.data, pw)
			done <- err == nil
		}()
		select {
		case trust := <-done:
			if trust {
				// Every bag is a trusted certificate: no keys after all.
				k.Entries, k.Complete, k.KeyDecrypts = nil, true, nil
			}
		case <-ctx.Done():
		}
	}
	return true
}

// walkJKS lists the entries of a JKS or JCEKS store, checking every length
// against the bytes that remain, so that a hostile length field is an error
// here rather than a huge allocation in keystore-go.
func walkJKS(data []byte) ([]Entry, bool, error) {
	r := &byteReader{b: data}
	r.u32() // magic
	version := r.u32()
	count := r.u32()
	if r.err != nil {
		return nil, false, ErrMalformed
	}
	if version != 1 && version != 2 {
		return nil, false, fmt.Errorf("%w: version %d", ErrMalformed, version)
	}
	var entries []Entry
	readCert := func() {
		if version == 2 {
			r.skip(int(r.u16())) // certificate type
		}
		r.skip(int(r.u32()))
	}
	for i := uint32(0); i < count && r.err == nil; i++ {
		tag := r.u32()
		alias := string(r.bytes(int(r.u16())))
		r.skip(8) // timestamp
		switch tag {
		case 1: // private key: protected key, then certificate chain
			r.skip(int(r.u32()))
			n := r.u32()
			for j := uint32(0); j < n && r.err == nil; j++ {
				readCert()
			}
			entries = append(entries, Entry{Alias: alias, PrivateKey: true})
		case 2: // trusted certificate
			readCert()
			entries = append(entries, Entry{Alias: alias})
		case 3: // JCEKS secret key: a serialized Java object with no length
			entries = append(entries, Entry{Alias: alias, SecretKey: true})
			return entries, false, nil
		default:
			return entries, false, fmt.Errorf("%w: entry tag %d", ErrMalformed, tag)
		}
	}
	if r.err != nil {
		return entries, false, fmt.Errorf("%w: truncated", ErrMalformed)
	}
	if len(r.b)-r.off != sha1.Size {
		return entries, false, fmt.Errorf("%w: %d bytes after the entries, want a %d-byte digest", ErrMalformed, len(r.b)-r.off, sha1.Size)
	}
	return entries, true, nil
}

// byteReader reads big-endian fields, remembering the first overrun.
type byteReader struct {
	b   []byte
	off int
	err error
}

func (r *byteReader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.err = ErrMalformed
		return nil
	}
	out := r.b[r.off : r.off+n]
	r.off += n
	return out
}

func (r *byteReader) skip(n int) { r.bytes(n) }

func (r *byteReader) u16() uint16 {
	b := r.bytes(2)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

func (r *byteReader) u32() uint32 {
	b := r.bytes(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}
