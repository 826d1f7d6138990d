package cache

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/peelscan/peel/internal/privdir"
)

// A layer result holds the secrets found and the keystores kept to be
// verified, so a store keeps nothing a reader of its bytes could use: the
// value is sealed with AES-256-GCM under a key derived from a secret kept
// outside the store (Key), and the entry's name is an HMAC of the
// scanner's key under another derived key, so that the names do not tell
// which layers were scanned either. An entry is
//
//	magic (8 bytes) | key ID (16) | nonce (12) | ciphertext and GCM tag
//
// with the magic, the key ID and the scanner's key as the authenticated
// data: an entry sealed under another key is a miss (its key ID differs;
// nothing is decrypted), and an entry copied or renamed to another key's
// place fails to open.

// MinKeySize is the fewest bytes a cache secret may have.
const MinKeySize = 16

const (
	sealMagic = "peelsea1"
	keyIDSize = 16
)

// Key is a cache secret, with what it derives: the AEAD that seals
// values, the key that names entries, and an ID that tells its entries
// apart from other keys' without revealing it.
type Key struct {
	aead  cipher.AEAD
	names []byte
	id    [keyIDSize]byte
}

// NewKey derives a Key from a secret of at least MinKeySize bytes (a key
// file's content, or a CI secret shared by the runners of one cache).
func NewKey(secret []byte) (*Key, error) {
	if len(secret) < MinKeySize {
		return nil, fmt.Errorf("the cache key has %d bytes; use at least %d random ones (openssl rand -hex 32)", len(secret), MinKeySize)
	}
	derive := func(info string, n int) []byte {
		b, err := hkdf.Key(sha256.New, secret, nil, "peel layer cache v1: "+info, n)
		if err != nil {
			panic(err) // only for lengths past 255 hashes: not these
		}
		return b
	}
	block, err := aes.NewCipher(derive("seal", 32))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	k := &Key{aead: aead, names: derive("names", 32)}
	copy(k.id[:], derive("key id", keyIDSize))
	return k, nil
}

// keyFileSize is the random bytes of a key file made by LoadKey, which
// holds them in hex.
const keyFileSize = 32

// LoadKey reads the cache secret kept in path, or makes one (32 random
// bytes, in hex, mode 0600, in a 0700 directory) if there is none. A key
// file another user owns or others may read, or in a directory others may
// write, is refused (privdir.ErrNotPrivate). Two processes making it at
// once agree on one.
func LoadKey(path string) (*Key, error) {
	if err := privdir.Ensure(filepath.Dir(path)); err != nil {
		return nil, err
	}
	secret, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		secret, err = makeKeyFile(path)
	}
	if err != nil {
		return nil, err
	}
	return NewKey(secret)
}

func readKeyFile(path string) ([]byte, error) {
	if err := privdir.CheckFile(path); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return bytes.TrimSpace(b), nil
}

// makeKeyFile writes a new secret to a temp file beside path and links it
// into place, which fails if another process got there first: then its
// key is read instead.
func makeKeyFile(path string) ([]byte, error) {
	var raw [keyFileSize]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	secret := []byte(hex.EncodeToString(raw[:]))
	f, err := os.CreateTemp(filepath.Dir(path), ".cache-key-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(append(secret, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if err := os.Link(f.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKeyFile(path)
		}
		return nil, err
	}
	return secret, nil
}

// Sealed is a store whose values are encrypted and authenticated under a
// Key, and whose entry names reveal nothing: wrap any Store in it (Dir,
// or a shared store) to keep what peel found from whoever can read the
// store.
type Sealed struct {
	store Store
	key   *Key
}

var _ Store = (*Sealed)(nil)

// Seal wraps store with key.
func Seal(store Store, key *Key) *Sealed { return &Sealed{store: store, key: key} }

// ErrUnsealed is the error of an entry under this key's ID that does not
// authenticate: tampered with, truncated, or moved from another key's
// place.
var ErrUnsealed = errors.New("cache entry does not authenticate")

// name is the store key of the entry for the scanner's key: an HMAC of it.
func (s *Sealed) name(key string) string {
	m := hmac.New(sha256.New, s.key.names)
	m.Write([]byte(key))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Sealed) additional(key string) []byte {
	return append(append([]byte(sealMagic), s.key.id[:]...), key...)
}

// Get implements Store. An entry sealed under another key is a miss; one
// that does not authenticate is a miss with ErrUnsealed.
func (s *Sealed) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, ok, err := s.store.Get(ctx, s.name(key))
	if err != nil || !ok {
		return nil, false, err
	}
	head := len(sealMagic) + keyIDSize
	if len(b) < head+s.key.aead.NonceSize()+s.key.aead.Overhead() || string(b[:len(sealMagic)]) != sealMagic {
		return nil, false, ErrUnsealed
	}
	if !bytes.Equal(b[len(sealMagic):head], s.key.id[:]) {
		return nil, false, nil // another key's entry
	}
	nonce, sealed := b[head:head+s.key.aead.NonceSize()], b[head+s.key.aead.NonceSize():]
	value, err := s.key.aead.Open(nil, nonce, sealed, s.additional(key))
	if err != nil {
		return nil, false, ErrUnsealed
	}
	return value, true, nil
}

// Put implements Store.
func (s *Sealed) Put(ctx context.Context, key string, value []byte) error {
	ns := s.key.aead.NonceSize()
	out := make([]byte, 0, len(sealMagic)+keyIDSize+ns+len(value)+s.key.aead.Overhead())
	out = append(append(out, sealMagic...), s.key.id[:]...)
	nonce := out[len(out) : len(out)+ns]
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	out = s.key.aead.Seal(out[:len(out)+ns], nonce, value, s.additional(key))
	return s.store.Put(ctx, s.name(key), out)
}
