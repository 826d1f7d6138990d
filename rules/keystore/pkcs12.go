package keystore

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"unicode/utf16"
)

// PKCS#12 structures, read with encoding/asn1. go-pkcs12 checks passwords
// and decrypts, but exposes neither the bags' friendly names (the aliases
// keytool shows) nor anything before the password is known, and runs a
// file's key derivations to the end, for as many rounds as the file asks,
// with no way to stop it. So the store's layout is read here: its aliases
// (JDK and OpenSSL stores keep their shrouded key bags, with their names,
// in plain data content), the MAC's parameters, and the iteration counts of
// the encrypted content; and a password is checked against the MAC here,
// a round at a time, so that the work is counted against a budget and
// stops when the scan is cancelled. go-pkcs12 is left to decrypt the
// certificates of a trust store, whose cost is known by then.
var (
	oidDataContent      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedContent = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidKeyBag           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	oidShroudedKeyBag   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidCertBag          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidFriendlyName     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 20}

	oidSHA1    = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA512  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidPBMAC1  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 14}
	oidPBKDF2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidPBES2   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPKCS12  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1} // pbeWithSHAAnd… (PKCS#12 PBE), by prefix
	oidHMAC1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMAC256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMAC512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
)

type p12PFX struct {
	Version  int
	AuthSafe p12ContentInfo
	MacData  asn1.RawValue `asn1:"optional"`
}

type p12ContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
}

type p12SafeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue  `asn1:"tag:0,explicit"`
	Attributes []p12Attribute `asn1:"set,optional"`
}

type p12Attribute struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue `asn1:"set"`
}

type p12MacData struct {
	Mac struct {
		Algorithm pkix.AlgorithmIdentifier
		Digest    []byte
	}
	Salt       []byte
	Iterations *big.Int `asn1:"optional"` // DEFAULT 1
}

type p12EncryptedData struct {
	Version int
	Info    struct {
		ContentType asn1.ObjectIdentifier
		Algorithm   pkix.AlgorithmIdentifier
		Content     asn1.RawValue `asn1:"tag:0,optional"`
	}
}

type pbeParams struct {
	Salt       []byte
	Iterations *big.Int
}

type pbes2Params struct {
	KDF, Scheme pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt       asn1.RawValue
	Iterations *big.Int
	KeyLength  int                      `asn1:"optional"`
	PRF        pkix.AlgorithmIdentifier `asn1:"optional"`
}

type pbmac1Params struct {
	KDF, MAC pkix.AlgorithmIdentifier
}

// pkcs12MAC is what checking a password against a store's MAC takes.
type pkcs12MAC struct {
	present bool
	message []byte // the authenticated safe's content, which the MAC covers
	digest  []byte
	// The classic MAC: a key derived with PKCS#12's KDF (RFC 7292 B.2)
	// from salt with rounds rounds of h, then HMAC with h.
	h      func() hash.Hash
	salt   []byte
	rounds int64
	// PBMAC1 (RFC 9579): a PBKDF2 key of keyLen bytes with prf, then HMAC
	// with h; rounds counts PBKDF2's iterations.
	pbmac1 bool
	prf    func() hash.Hash
	keyLen int
	// unsupported names an algorithm go-pkcs12 does not read either: no
	// password opens the store.
	unsupported string
}

// cost is the key-derivation rounds one password tried takes: PBKDF2
// rounds count twice (two hashes each), per output block.
func (m *pkcs12MAC) cost() int64 {
	if m.pbmac1 {
		blocks := int64((m.keyLen + m.prf().Size() - 1) / m.prf().Size())
		return 2 * m.rounds * blocks
	}
	return m.rounds
}

// pkcs12Layout is a PKCS#12 file as read without its password.
type pkcs12Layout struct {
	entries  []Entry
	complete bool // every bag was in plain data
	mac      pkcs12MAC
	// decryptCost is the rounds go-pkcs12 spends decrypting the encrypted
	// contents (certificates, in a trust store) with the right password.
	decryptCost int64
}

// rounds reads an iteration count, refusing one over MaxPKCS12Iterations.
func rounds(n *big.Int, what string) (int64, error) {
	if n == nil {
		return 1, nil
	}
	if n.Sign() <= 0 || !n.IsInt64() || n.Int64() > MaxPKCS12Iterations {
		return 0, fmt.Errorf("%s iteration count %s is over the limit of %d", what, n, MaxPKCS12Iterations)
	}
	return n.Int64(), nil
}

func readPKCS12(data []byte) (*pkcs12Layout, error) {
	var pfx p12PFX
	if _, err := asn1.Unmarshal(data, &pfx); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	l := &pkcs12Layout{}
	if pfx.Version != 3 || !pfx.AuthSafe.ContentType.Equal(oidDataContent) {
		// Public-key integrity mode: nothing is readable here, and no
		// password opens it.
		l.mac.present, l.mac.unsupported = true, "public-key integrity mode"
		return l, nil
	}
	var authSafe []byte
	if _, err := asn1.Unmarshal(pfx.AuthSafe.Content.Bytes, &authSafe); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := l.readMAC(pfx.MacData, authSafe); err != nil {
		return nil, err
	}
	var infos []p12ContentInfo
	if _, err := asn1.Unmarshal(authSafe, &infos); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	l.complete = true
	for _, ci := range infos {
		if ci.ContentType.Equal(oidEncryptedContent) {
			l.complete = false
			var ed p12EncryptedData
			if _, err := asn1.Unmarshal(ci.Content.Bytes, &ed); err == nil {
				n, err := encryptionRounds(ed.Info.Algorithm)
				if err != nil {
					return nil, err
				}
				l.decryptCost += n
			}
			continue
		}
		if !ci.ContentType.Equal(oidDataContent) {
			l.complete = false
			continue
		}
		var contents []byte
		if _, err := asn1.Unmarshal(ci.Content.Bytes, &contents); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		var bags []p12SafeBag
		if _, err := asn1.Unmarshal(contents, &bags); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		for _, b := range bags {
			e := Entry{Alias: friendlyName(b.Attributes)}
			switch {
			case b.ID.Equal(oidKeyBag), b.ID.Equal(oidShroudedKeyBag):
				e.PrivateKey = true
			case b.ID.Equal(oidCertBag):
			default:
				continue
			}
			l.entries = append(l.entries, e)
		}
	}
	return l, nil
}

// readMAC reads the MacData, which sits after the authenticated safe
// however large that is.
func (l *pkcs12Layout) readMAC(raw asn1.RawValue, message []byte) error {
	m := &l.mac
	m.message = message
	if len(raw.FullBytes) == 0 {
		return nil
	}
	var md p12MacData
	if _, err := asn1.Unmarshal(raw.FullBytes, &md); err != nil {
		return fmt.Errorf("%w: MAC: %v", ErrMalformed, err)
	}
	m.present, m.digest, m.salt = true, md.Mac.Digest, md.Salt
	alg := md.Mac.Algorithm.Algorithm
	switch {
	case alg.Equal(oidSHA1):
		m.h = sha1.New
	case alg.Equal(oidSHA256):
		m.h = sha256.New
	case alg.Equal(oidSHA512):
		m.h = sha512.New
	case alg.Equal(oidPBMAC1):
		return m.readPBMAC1(md.Mac.Algorithm.Parameters.FullBytes)
	default:
		m.unsupported = "MAC algorithm " + alg.String()
		return nil
	}
	var err error
	m.rounds, err = rounds(md.Iterations, "MAC")
	return err
}

func (m *pkcs12MAC) readPBMAC1(params []byte) error {
	var p pbmac1Params
	if _, err := asn1.Unmarshal(params, &p); err != nil || !p.KDF.Algorithm.Equal(oidPBKDF2) {
		m.unsupported = "PBMAC1 parameters"
		return nil
	}
	var kp pbkdf2Params
	if _, err := asn1.Unmarshal(p.KDF.Parameters.FullBytes, &kp); err != nil || kp.Salt.Tag != asn1.TagOctetString {
		m.unsupported = "PBMAC1 key derivation parameters"
		return nil
	}
	m.prf, m.h = hmacHash(kp.PRF.Algorithm), hmacHash(p.MAC.Algorithm)
	// As go-pkcs12 (RFC 9579): an explicit key length, 20 to 64 bytes.
	if m.prf == nil || m.h == nil || kp.KeyLength < 20 || kp.KeyLength > 64 {
		m.unsupported = "PBMAC1 algorithms or key length"
		return nil
	}
	var err error
	m.pbmac1, m.salt, m.keyLen = true, kp.Salt.Bytes, kp.KeyLength
	m.rounds, err = rounds(kp.Iterations, "MAC")
	return err
}

// hmacHash is the hash of an HMAC algorithm identifier; an absent one is
// HMAC-SHA1, PBKDF2's default.
func hmacHash(oid asn1.ObjectIdentifier) func() hash.Hash {
	switch {
	case len(oid) == 0, oid.Equal(oidHMAC1):
		return sha1.New
	case oid.Equal(oidHMAC256):
		return sha256.New
	case oid.Equal(oidHMAC512):
		return sha512.New
	}
	return nil
}

// encryptionRounds is the rounds decrypting content under alg takes with
// go-pkcs12: PKCS#12 PBE derives a key and an IV (about three runs of its
// KDF), PBES2 runs PBKDF2 (two hashes a round).
func encryptionRounds(alg pkix.AlgorithmIdentifier) (int64, error) {
	switch {
	case len(alg.Algorithm) == len(oidPKCS12)+1 && alg.Algorithm[:len(oidPKCS12)].Equal(oidPKCS12):
		var p pbeParams
		if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &p); err != nil {
			return 0, nil // go-pkcs12 refuses it before deriving anything
		}
		n, err := rounds(p.Iterations, "encryption")
		return 3 * n, err
	case alg.Algorithm.Equal(oidPBES2):
		var p pbes2Params
		var kp pbkdf2Params
		if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &p); err != nil {
			return 0, nil
		}
		if _, err := asn1.Unmarshal(p.KDF.Parameters.FullBytes, &kp); err != nil {
			return 0, nil
		}
		n, err := rounds(kp.Iterations, "encryption")
		return 2 * n, err
	}
	return 0, nil
}

func friendlyName(attrs []p12Attribute) string {
	for _, a := range attrs {
		if !a.ID.Equal(oidFriendlyName) {
			continue
		}
		var bmp asn1.RawValue
		if _, err := asn1.Unmarshal(a.Value.Bytes, &bmp); err != nil || bmp.Tag != 30 || len(bmp.Bytes)%2 != 0 {
			return ""
		}
		u := make([]uint16, len(bmp.Bytes)/2)
		for i := range u {
			u[i] = uint16(bmp.Bytes[2*i])<<8 | uint16(bmp.Bytes[2*i+1])
		}
		return string(utf16.Decode(u))
	}
	return ""
}

// Limits on the key-derivation work a PKCS#12 file can ask for. The file
// sets its own iteration counts (JDK 17: 10 000, OpenSSL 3: 2 048, .NET:
// 2 000), and every password tried pays them, so a hostile count would
// stall a scan.
const (
	// MaxPKCS12Iterations is the largest iteration count accepted, in the
	// MAC or the encrypted content: a store asking for more is refused.
	MaxPKCS12Iterations = 1_000_000
	// pkcs12WorkBudget bounds the rounds spent on one store, over every
	// password tried.
	pkcs12WorkBudget = 20_000_000
	// ctxEvery is how many rounds run between looks at the context.
	ctxEvery = 1 << 12
)

// errCancelled stops a key derivation whose context ended.
var errCancelled = errors.New("cancelled")

// bmpPassword is a password as PKCS#12 hashes it: UCS-2, big-endian, with
// a terminating zero; false for one that UCS-2 cannot hold.
func bmpPassword(pw string) ([]byte, bool) {
	out := make([]byte, 0, 2*len(pw)+2)
	for _, r := range pw {
		if r > 0xFFFF || r >= 0xD800 && r < 0xE000 {
			return nil, false
		}
		out = append(out, byte(r>>8), byte(r))
	}
	return append(out, 0, 0), true
}

// macMatches reports whether pw passes the store's MAC, as go-pkcs12 would
// decide it (an empty password is tried as the two zero bytes, then as no
// bytes). An error is a cancelled context.
func (m *pkcs12MAC) macMatches(ctx context.Context, pw string) (bool, error) {
	if !m.present {
		return pw == "", nil // a store without a MAC has no password
	}
	if m.unsupported != "" {
		return false, nil
	}
	if m.pbmac1 {
		key, err := pbkdf2Key(ctx, m.prf, []byte(pw), m.salt, m.rounds, m.keyLen)
		if err != nil {
			return false, err
		}
		return m.check(key), nil
	}
	bmp, ok := bmpPassword(pw)
	if !ok {
		return false, nil
	}
	for _, p := range [][]byte{bmp, nil} {
		key, err := pkcs12MACKey(ctx, m.h, m.salt, p, m.rounds)
		if err != nil {
			return false, err
		}
		if m.check(key) {
			return true, nil
		}
		if pw != "" {
			break
		}
	}
	return false, nil
}

func (m *pkcs12MAC) check(key []byte) bool {
	mac := hmac.New(m.h, key)
	mac.Write(m.message)
	return hmac.Equal(mac.Sum(nil), m.digest)
}

// pkcs12MACKey derives the MAC key of RFC 7292 appendix B.2 (ID 3): one
// output block of h, the hash of D || S || P iterated rounds times, where
// D is the ID repeated to h's block size and S and P (salt and password)
// are each repeated to a whole number of blocks. Only one block is ever
// needed for a MAC key (its length is h's), so B.2's block adjustment
// does not arise. Written here because go-pkcs12 keeps its KDF to itself
// and runs it without a way to stop it.
func pkcs12MACKey(ctx context.Context, h func() hash.Hash, salt, password []byte, rounds int64) ([]byte, error) {
	d := h()
	v := d.BlockSize()
	fill := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		out := make([]byte, v*((len(b)+v-1)/v))
		for i := range out {
			out[i] = b[i%len(b)]
		}
		return out
	}
	for i := 0; i < v; i++ {
		d.Write([]byte{3})
	}
	d.Write(fill(salt))
	d.Write(fill(password))
	a := d.Sum(nil)
	for i := int64(1); i < rounds; i++ {
		if i%ctxEvery == 0 && ctx.Err() != nil {
			return nil, errCancelled
		}
		d.Reset()
		d.Write(a)
		a = d.Sum(a[:0])
	}
	return a, nil
}

// pbkdf2Key is PBKDF2 (RFC 8018 5.2) with HMAC over prf; the standard
// library's cannot be stopped mid-way.
func pbkdf2Key(ctx context.Context, prf func() hash.Hash, password, salt []byte, rounds int64, keyLen int) ([]byte, error) {
	mac := hmac.New(prf, password)
	hLen := mac.Size()
	out := make([]byte, 0, keyLen+hLen)
	u := make([]byte, 0, hLen)
	for block := uint32(1); len(out) < keyLen; block++ {
		mac.Reset()
		mac.Write(salt)
		mac.Write([]byte{byte(block >> 24), byte(block >> 16), byte(block >> 8), byte(block)})
		u = mac.Sum(u[:0])
		t := append([]byte(nil), u...)
		for i := int64(1); i < rounds; i++ {
			if i%ctxEvery == 0 && ctx.Err() != nil {
				return nil, errCancelled
			}
			mac.Reset()
			mac.Write(u)
			u = mac.Sum(u[:0])
			for j := range t {
				t[j] ^= u[j]
			}
		}
		out = append(out, t...)
	}
	return out[:keyLen], nil
}
