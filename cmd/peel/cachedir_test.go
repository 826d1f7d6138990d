package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrivateDirectories: a cache directory others may write or another
// user owns, a temp directory others may write without the sticky bit, a
// key file others may read, a short PEEL_CACHE_KEY: each ends the run
// with exit status 2 and one line naming it, before anything is read.
func TestPrivateDirectories(t *testing.T) {
	shared := filepath.Join(t.TempDir(), "shared")
	os.Mkdir(shared, 0o700)
	os.Chmod(shared, 0o777)
	tmp := filepath.Join(t.TempDir(), "tmp")
	os.Mkdir(tmp, 0o700)
	os.Chmod(tmp, 0o777)
	config := t.TempDir()
	os.MkdirAll(filepath.Join(config, "peel"), 0o700)
	os.WriteFile(filepath.Join(config, "peel", "cache-key"), []byte("0123456789abcdef0123456789abcdef\n"), 0o644)
	theirs := "/"
	if os.Geteuid() == 0 {
		theirs = filepath.Join(t.TempDir(), "theirs")
		os.Mkdir(theirs, 0o700)
		os.Chown(theirs, 65534, 65534)
	}
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"group and world writable cache", nil, []string{"--cache-dir", shared},
			"peel: cache directory: " + shared + " is writable by its group and everyone (mode 0777): refused (chmod 700 it, or pass --cache-dir with a directory of your own, or --no-cache)"},
		{"another user's cache", nil, []string{"--cache-dir", theirs}, "is owned by uid"},
		{"shared temp directory", []string{"TMPDIR=" + tmp}, []string{"--no-cache"},
			"peel: temp directory: " + tmp + " is writable by its group and everyone (mode 0777) without the sticky bit: refused (set TMPDIR to a directory of your own)"},
		{"readable key file", []string{"XDG_CONFIG_HOME=" + config}, nil,
			"peel: cache key: " + filepath.Join(config, "peel", "cache-key") + " is open to others (mode 0644): refused (chmod 600 it)"},
		{"short key", []string{"PEEL_CACHE_KEY=short"}, nil, "peel: PEEL_CACHE_KEY: the cache key has 5 bytes; use at least 16 random ones"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := peelEnv(t, c.env, "", append(append([]string{"scan"}, c.args...), fx("sts-v1.tar"))...)
			if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", r.code, r.stdout, r.stderr, c.want)
			}
		})
	}
	// With a key of its own in PEEL_CACHE_KEY, the key file is not needed.
	r := peelEnv(t, []string{"XDG_CONFIG_HOME=" + config, "PEEL_CACHE_KEY=a-shared-ci-secret-0123456789"}, "", "scan", "-q", fx("sts-v1.tar"))
	if r.code != 1 {
		t.Errorf("with PEEL_CACHE_KEY: exit %d\n%s", r.code, r.stderr)
	}
}

// TestCacheFlagPrecedence: --cache and --no-cache, one on the command line
// and the other from the environment, follow the command line; both from
// the environment are one line naming them, exit 2.
func TestCacheFlagPrecedence(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "readme.txt"), []byte("nothing here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unreachable := "PEEL_CACHE=redis://127.0.0.1:1/0"
	if r := peelEnv(t, []string{unreachable}, "", "scan", "-q", "--no-cache", "dir:"+dir); r.code != 0 {
		t.Errorf("PEEL_CACHE with --no-cache: exit %d\n%s", r.code, r.stderr)
	}
	r := peelEnv(t, []string{unreachable, "PEEL_NO_CACHE=true"}, "", "scan", "-q", "dir:"+dir)
	if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "PEEL_CACHE and PEEL_NO_CACHE exclude each other") {
		t.Errorf("both from the environment: exit %d, stderr %q", r.code, r.stderr)
	}
	r = peelEnv(t, []string{"PEEL_NO_CACHE=true", "PEEL_CACHE_KEY="}, "", "scan", "-q", "--cache", "redis://127.0.0.1:1/0", "dir:"+dir)
	if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "PEEL_CACHE_KEY is not set") {
		t.Errorf("--cache over PEEL_NO_CACHE: exit %d, stderr %q; want the Redis cache tried (and refused without its key)", r.code, r.stderr)
	}
}
