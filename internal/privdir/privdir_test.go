package privdir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckTemp: a temp parent others may write is taken only with the
// sticky bit; one another user (not root) owns is refused.
func TestCheckTemp(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tmp")
	os.Mkdir(dir, 0o700)
	if err := CheckTemp(dir); err != nil {
		t.Errorf("a private directory: %v", err)
	}
	os.Chmod(dir, 0o777)
	if err := CheckTemp(dir); !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), "without the sticky bit") {
		t.Errorf("world-writable without sticky bit: %v", err)
	}
	os.Chmod(dir, 0o777|os.ModeSticky)
	if err := CheckTemp(dir); err != nil {
		t.Errorf("world-writable with the sticky bit (as /tmp): %v", err)
	}
	if os.Geteuid() == 0 {
		os.Chmod(dir, 0o755)
		os.Chown(dir, 65534, 65534)
		if err := CheckTemp(dir); !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Errorf("another user's directory: %v", err)
		}
	}
}

// TestEnsure: a directory is made private; one others may write, or that
// is a file, is refused.
func TestEnsure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := Ensure(dir); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("made %04o", st.Mode().Perm())
	}
	os.Chmod(dir, 0o775)
	if err := Ensure(dir); err == nil || err.Error() != dir+" is writable by its group (mode 0775): refused (chmod 700 it)" {
		t.Errorf("group-writable: %v", err)
	}
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o600)
	if err := Ensure(file); err == nil {
		t.Error("a file taken for a directory")
	}
}

// TestCheckFile: a secret's file must be private.
func TestCheckFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "key")
	os.WriteFile(f, []byte("k"), 0o600)
	if err := CheckFile(f); err != nil {
		t.Error(err)
	}
	os.Chmod(f, 0o640)
	if err := CheckFile(f); !errors.Is(err, ErrNotPrivate) {
		t.Errorf("group-readable: %v", err)
	}
	link := f + ".link"
	os.Symlink(f, link)
	if err := CheckFile(link); !errors.Is(err, ErrNotPrivate) {
		t.Errorf("a symbolic link: %v", err)
	}
}
