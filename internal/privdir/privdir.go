// Package privdir checks the directories peel keeps what it found in (the
// layer cache, the cache key's directory) and the one its temp directory is
// made in: a directory another user owns, or that others may write, could
// have its entries read, swapped or planted under peel, and is refused with
// a message that says why, rather than used after a chmod that cannot work.
package privdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ErrNotPrivate is what every refusal of this package is (errors.Is).
var ErrNotPrivate = errors.New("not private")

// Error is a refusal: the path, what is wrong with it, and how to fix it.
type Error struct {
	Path, Problem, Fix string
}

func (e *Error) Error() string {
	s := e.Path + " " + e.Problem + ": refused"
	if e.Fix != "" {
		s += " (" + e.Fix + ")"
	}
	return s
}

// Is makes every Error an ErrNotPrivate.
func (e *Error) Is(target error) bool { return target == ErrNotPrivate }

func notOwned(path string, uid int) error {
	return &Error{Path: path, Problem: fmt.Sprintf("is owned by uid %d, not by this user (uid %d)", uid, os.Geteuid())}
}

// Ensure makes dir (and its parents) if it does not exist, private to this
// user (0700), and checks an existing one: it must be a directory this
// user owns, writable by no one else; one that others may only read is
// made 0700.
func Ensure(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return &Error{Path: dir, Problem: "is not a directory"}
	}
	if uid, ok := owner(st); ok && uid != os.Geteuid() {
		return notOwned(dir, uid)
	}
	if perm := st.Mode().Perm(); perm&0o022 != 0 {
		return &Error{Path: dir, Problem: fmt.Sprintf("is writable by %s (mode %04o)", whoWrites(perm), perm), Fix: "chmod 700 it"}
	}
	if st.Mode().Perm()&0o077 != 0 {
		return os.Chmod(dir, 0o700)
	}
	return nil
}

// CheckTemp checks a directory peel makes its private temp directory in
// (TMPDIR): it must be a directory; if others may write it, it must have
// the sticky bit (as /tmp has), so that no one else can rename or remove
// what peel makes there; and it must belong to this user or to root.
func CheckTemp(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return &Error{Path: dir, Problem: "is not a directory"}
	}
	if uid, ok := owner(st); ok && uid != os.Geteuid() && uid != 0 {
		return &Error{Path: dir, Problem: fmt.Sprintf("is owned by uid %d, neither this user (uid %d) nor root", uid, os.Geteuid())}
	}
	if perm := st.Mode().Perm(); perm&0o022 != 0 && st.Mode()&fs.ModeSticky == 0 {
		return &Error{Path: dir, Problem: fmt.Sprintf("is writable by %s (mode %04o) without the sticky bit", whoWrites(perm), perm)}
	}
	return nil
}

// CheckFile checks a file that holds a secret (the cache key): a regular
// file this user owns, that no one else may read or write.
func CheckFile(path string) error {
	st, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return &Error{Path: path, Problem: "is not a regular file"}
	}
	if uid, ok := owner(st); ok && uid != os.Geteuid() {
		return notOwned(path, uid)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return &Error{Path: path, Problem: fmt.Sprintf("is open to others (mode %04o)", perm), Fix: "chmod 600 it"}
	}
	return nil
}

func whoWrites(perm fs.FileMode) string {
	switch {
	case perm&0o020 != 0 && perm&0o002 != 0:
		return "its group and everyone"
	case perm&0o020 != 0:
		return "its group"
	}
	return "everyone"
}
