package cache

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/peelscan/peel/internal/privdir"
)

func mustOpen(t *testing.T, root string) *Dir {
	t.Helper()
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDir: a value comes back as stored, the directory and entries are
// private, and a key that is not a hex digest cannot name a file.
func TestDir(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "layers")
	d := mustOpen(t, root)
	key := strings.Repeat("ab", 32)
	if _, ok, err := d.Get(ctx, key); ok || err != nil {
		t.Fatalf("empty cache: ok %v err %v", ok, err)
	}
	if err := d.Put(ctx, key, []byte("value")); err != nil {
		t.Fatal(err)
	}
	b, ok, err := d.Get(ctx, key)
	if err != nil || !ok || string(b) != "value" {
		t.Fatalf("Get = %q %v %v", b, ok, err)
	}
	if st, _ := os.Stat(root); st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v", st.Mode().Perm())
	}
	if st, _ := os.Stat(filepath.Join(root, key[:2], key)); st.Mode().Perm() != 0o600 {
		t.Errorf("entry mode %v", st.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(root, "CACHEDIR.TAG")); err != nil {
		t.Errorf("no CACHEDIR.TAG: %v", err)
	}
	for _, bad := range []string{"../../etc/passwd", strings.Repeat("AB", 32), "abc", strings.Repeat("a", 40) + "/x"} {
		if err := d.Put(ctx, bad, []byte("x")); err == nil {
			t.Errorf("Put(%q) accepted", bad)
		}
		if _, _, err := d.Get(ctx, bad); err == nil {
			t.Errorf("Get(%q) accepted", bad)
		}
	}
	// Opened again, the entries stay.
	if b, ok, _ := mustOpen(t, root).Get(ctx, key); !ok || string(b) != "value" {
		t.Errorf("reopened: %q %v", b, ok)
	}
}

// TestDirRemovesEarlierEntries: the entries an earlier peel wrote, in
// plaintext, without the layout file, are removed when the directory is
// opened; other files are left alone.
func TestDirRemovesEarlierEntries(t *testing.T) {
	root := t.TempDir()
	old := filepath.Join(root, "ab", strings.Repeat("ab", 32))
	other := filepath.Join(root, "ab", "notes.txt")
	mine := filepath.Join(root, "README")
	for _, p := range []string{old, other, mine} {
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(`{"findings":[{"Secret":"plaintext-pw"}]}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mustOpen(t, root)
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the earlier layout's entry is still there (%v)", err)
	}
	for _, p := range []string{other, mine} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}

// TestDirRefusesSharedDirectories: a cache directory others may write, or
// another user owns, is refused with a message naming it; one others may
// only read is made private.
func TestDirRefusesSharedDirectories(t *testing.T) {
	for _, mode := range []os.FileMode{0o770, 0o777, 0o702} {
		root := filepath.Join(t.TempDir(), "c")
		os.Mkdir(root, 0o700)
		os.Chmod(root, mode)
		_, err := Open(root)
		if !errors.Is(err, privdir.ErrNotPrivate) || !strings.Contains(err.Error(), root+" is writable by") {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
	root := filepath.Join(t.TempDir(), "c")
	os.Mkdir(root, 0o755)
	mustOpen(t, root)
	if st, _ := os.Stat(root); st.Mode().Perm() != 0o700 {
		t.Errorf("a readable directory stays %04o", st.Mode().Perm())
	}

	foreign := foreignDir(t)
	_, err := Open(foreign)
	if !errors.Is(err, privdir.ErrNotPrivate) || !strings.Contains(err.Error(), "is owned by uid") {
		t.Errorf("a directory another user owns: %v", err)
	}
}

// foreignDir returns a directory another user owns: made and given away
// when running as root, else one root owns.
func foreignDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		return "/"
	}
	d := filepath.Join(t.TempDir(), "theirs")
	os.Mkdir(d, 0o700)
	if err := os.Chown(d, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	return d
}

func testKey(t *testing.T, secret string) *Key {
	t.Helper()
	k, err := NewKey([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// memStore is a Store in memory, as a shared store would be.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (m *memStore) Get(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.m[key]
	return bytes.Clone(b), ok, nil
}

func (m *memStore) Put(_ context.Context, key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string][]byte{}
	}
	m.m[key] = bytes.Clone(value)
	return nil
}

// TestSealed: a value comes back as stored; the store holds neither the
// value nor the scanner's key; another key's entry is a miss; an entry
// moved to another key's place, or changed, does not open.
func TestSealed(t *testing.T) {
	ctx := context.Background()
	store := &memStore{}
	k1 := testKey(t, "first-cache-secret-0123456789")
	s := Seal(store, k1)
	keyA, keyB := strings.Repeat("a1", 32), strings.Repeat("b2", 32)
	value := []byte(`{"findings":[{"Secret":"sealed-plaintext-pw"}],"keystores":[{"data":"/u3+7QAAAAI="}]}`)
	if err := s.Put(ctx, keyA, value); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Get(ctx, keyA)
	if err != nil || !ok || !bytes.Equal(got, value) {
		t.Fatalf("Get = %q %v %v", got, ok, err)
	}
	if _, ok, err := s.Get(ctx, keyB); ok || err != nil {
		t.Errorf("a key never put: ok %v err %v", ok, err)
	}
	for name, b := range store.m {
		if name == keyA || strings.Contains(name, keyA) {
			t.Error("the store names the entry by the scanner's key")
		}
		if bytes.Contains(b, []byte("sealed-plaintext-pw")) || bytes.Contains(b, []byte("/u3+7Q")) {
			t.Error("the store holds the value in plaintext")
		}
	}

	// The same secret again (another process, another runner): it opens.
	if got, ok, _ := Seal(store, testKey(t, "first-cache-secret-0123456789")).Get(ctx, keyA); !ok || !bytes.Equal(got, value) {
		t.Error("the same secret does not open its entries")
	}

	// Another key: a miss, not garbage, and not an error, even when its
	// entry sits at this key's name.
	other := Seal(store, testKey(t, "second-cache-secret-0123456789"))
	if b, ok, err := other.Get(ctx, keyA); ok || err != nil || b != nil {
		t.Errorf("another key: %q %v %v", b, ok, err)
	}
	store.m[other.name(keyA)] = store.m[s.name(keyA)]
	if b, ok, err := other.Get(ctx, keyA); ok || err != nil || b != nil {
		t.Errorf("another key's entry in place: %q %v %v", b, ok, err)
	}

	// The entry of A copied to B's place does not open as B.
	store.m[s.name(keyB)] = store.m[s.name(keyA)]
	if b, ok, err := s.Get(ctx, keyB); ok || !errors.Is(err, ErrUnsealed) {
		t.Errorf("A's entry under B: %q %v %v", b, ok, err)
	}
	// Any byte changed, or the entry cut short: it does not open.
	sealed := store.m[s.name(keyA)]
	for _, c := range []struct {
		at      int
		wantErr bool // else a miss: the key ID no longer this key's
	}{{0, true}, {len(sealMagic), false}, {len(sealMagic) + keyIDSize, true}, {len(sealed) / 2, true}, {len(sealed) - 1, true}} {
		bad := bytes.Clone(sealed)
		bad[c.at] ^= 1
		store.m[s.name(keyA)] = bad
		if _, ok, err := s.Get(ctx, keyA); ok || errors.Is(err, ErrUnsealed) != c.wantErr {
			t.Errorf("byte %d changed: ok %v err %v", c.at, ok, err)
		}
	}
	store.m[s.name(keyA)] = sealed[:len(sealed)-1]
	if _, ok, err := s.Get(ctx, keyA); ok || !errors.Is(err, ErrUnsealed) {
		t.Errorf("cut short: ok %v err %v", ok, err)
	}

	if _, err := NewKey([]byte("short")); err == nil {
		t.Error("a 5-byte secret was taken")
	}
}

// TestLoadKey: the key file is made on first use, private, and read back
// as the same key; a key file others may read is refused; processes that
// make it at once agree on one key.
func TestLoadKey(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "config", "peel", "cache-key")
	k1, err := LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	if st, _ := os.Stat(filepath.Dir(path)); st.Mode().Perm() != 0o700 {
		t.Errorf("key directory mode %04o", st.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if len(bytes.TrimSpace(b)) != 2*keyFileSize {
		t.Errorf("key file holds %q", b)
	}
	k2, err := LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	store := &memStore{}
	key := strings.Repeat("cd", 32)
	Seal(store, k1).Put(ctx, key, []byte("v"))
	if v, ok, _ := Seal(store, k2).Get(ctx, key); !ok || string(v) != "v" {
		t.Error("the key read back does not open what the key made sealed")
	}
	// The key file's content is the secret: PEEL_CACHE_KEY can carry it.
	if v, ok, _ := Seal(store, testKey(t, string(bytes.TrimSpace(b)))).Get(ctx, key); !ok || string(v) != "v" {
		t.Error("the key file's content is not the key")
	}

	os.Chmod(path, 0o644)
	if _, err := LoadKey(path); !errors.Is(err, privdir.ErrNotPrivate) || !strings.Contains(err.Error(), "is open to others") {
		t.Errorf("a readable key file: %v", err)
	}

	racing := filepath.Join(t.TempDir(), "cache-key")
	keys := make([]*Key, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := LoadKey(racing)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if k != nil && keys[0] != nil && k.id != keys[0].id {
			t.Error("processes making the key at once got different keys")
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(racing)); len(entries) != 1 {
		t.Errorf("left beside the key: %v", entries)
	}
}
