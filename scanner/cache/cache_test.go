package cache

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDir: a value comes back as stored, the directory and entries are
// private, and a key that is not a hex digest cannot name a file.
func TestDir(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "layers")
	d := New(root)
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
	for _, bad := range []string{"../../etc/passwd", strings.Repeat("AB", 32), "abc", strings.Repeat("a", 40) + "/x"} {
		if err := d.Put(ctx, bad, []byte("x")); err == nil {
			t.Errorf("Put(%q) accepted", bad)
		}
		if _, _, err := d.Get(ctx, bad); err == nil {
			t.Errorf("Get(%q) accepted", bad)
		}
	}
}
