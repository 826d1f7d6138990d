package scanner

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// notRegular refuses a local input, or a file an OCI layout holds, that is
// neither a regular file nor a directory: opening a FIFO waits for a
// writer that may never come, and a device may read forever.
func notRegular(info fs.FileInfo) error {
	if m := info.Mode(); m.IsRegular() || m.IsDir() {
		return nil
	}
	return fmt.Errorf("a %s, not a regular file or a directory: refused", fileKind(info.Mode()))
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "special file"
}

// checkInput refuses an existing input path that is not a regular file or
// a directory.
func checkInput(p string) error {
	info, err := os.Stat(p)
	if err != nil {
		return nil // statInput says what is wrong
	}
	return notRegular(info)
}

// openNoWait opens a file for reading without waiting on it: were a FIFO
// put in a checked file's place, the open returns at once (and the caller,
// which checks the opened file's kind, skips it) instead of blocking.
func openNoWait(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// checkLayoutBlobs refuses an OCI layout whose blobs directory holds
// anything but regular files and directories (go-containerregistry opens
// the blobs a manifest names, and a FIFO among them would block the scan),
// or whose index.json is over maxLayoutJSON.
func checkLayoutBlobs(dir string) error {
	// go-containerregistry reads index.json whole, too.
	if st, err := os.Stat(filepath.Join(dir, "index.json")); err == nil && st.Size() > maxLayoutJSON {
		return fmt.Errorf("not an OCI layout: %w", errTooLarge{"index.json", st.Size(), maxLayoutJSON})
	}
	var bad error
	filepath.WalkDir(filepath.Join(dir, "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || bad != nil {
			return nil
		}
		if info, err := d.Info(); err == nil {
			if m := info.Mode(); m&fs.ModeSymlink == 0 {
				if err := notRegular(info); err != nil {
					bad = fmt.Errorf("not an OCI layout: %s: %w", p, err)
				}
			}
		}
		return nil
	})
	return bad
}
