// Package rediscache is a Redis store of peel's layer cache: one string
// value per entry, under a key prefix, each with a time to live, so that
// several peel processes on several machines share layer results. It
// implements scanner.LayerCache; the scanner derives the keys and encodes
// the values, which hold the secrets found: the server must be private to
// those who may read them (wrap the store to encrypt the values).
package rediscache

import (
	"context"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DefaultPrefix is put before every key.
const DefaultPrefix = "peel:layer:"

// DefaultTTL is how long an entry is kept since it was last stored.
const DefaultTTL = 7 * 24 * time.Hour

// Store is a layer cache in Redis.
type Store struct {
	c      goredis.UniversalClient
	prefix string
	ttl    time.Duration
}

// Options shape a Store; zero fields take the defaults.
type Options struct {
	Prefix string        // key prefix, DefaultPrefix by default
	TTL    time.Duration // entry lifetime, DefaultTTL by default
}

// New returns the store kept in Redis through c, which the caller closes.
func New(c goredis.UniversalClient, opts Options) *Store {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	return &Store{c: c, prefix: opts.Prefix, ttl: opts.TTL}
}

// errKey refuses a key that is not a lowercase hex digest, as the
// directory store does: keys are the scanner's, never the image's.
var errKey = errors.New("cache key is not a hex digest")

func checkKey(key string) error {
	if len(key) < 16 {
		return errKey
	}
	for _, c := range key {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return errKey
		}
	}
	return nil
}

// Get implements scanner.LayerCache.
func (s *Store) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := checkKey(key); err != nil {
		return nil, false, err
	}
	b, err := s.c.Get(ctx, s.prefix+key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// Put implements scanner.LayerCache. The entry lives for the store's TTL.
func (s *Store) Put(ctx context.Context, key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return s.c.Set(ctx, s.prefix+key, value, s.ttl).Err()
}
