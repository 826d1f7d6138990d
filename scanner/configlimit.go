package scanner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// maxConfigSize bounds an image config, which is read whole and parsed:
// real ones are a few KiB (100 000 environment entries make 2.5 MiB), and
// parsing one takes several times its size in memory.
const maxConfigSize = 16 << 20

// errTooLarge marks a manifest or config over its size limit.
type errTooLarge struct {
	what        string
	size, limit int64
}

func (e errTooLarge) Error() string {
	return fmt.Sprintf("%s of %d bytes is over the limit of %d bytes: refused", e.what, e.size, e.limit)
}

// readConfig reads img's config through maxConfigSize: the size its
// manifest declares is checked before anything is read, and what is read
// is cut at the limit whatever the source does with the declared size.
func readConfig(img v1.Image) (*v1.ConfigFile, error) {
	// Sources without a registry manifest (a docker save archive) bound
	// their reads themselves.
	if m, err := img.Manifest(); err == nil && m.Config.Size > maxConfigSize {
		return nil, errTooLarge{"image config", m.Config.Size, maxConfigSize}
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > maxConfigSize {
		return nil, errTooLarge{"image config", int64(len(raw)), maxConfigSize}
	}
	return v1.ParseConfigFile(bytes.NewReader(raw))
}

// layoutImage is an image of an OCI layout directory, whose manifest and
// config go-containerregistry reads whole from their blob files whatever
// their size: here they are read through maxLayoutJSON and maxConfigSize,
// and checked against their digests, before go-containerregistry reads
// them again for the layers.
type layoutImage struct {
	v1.Image
	dir string
}

// blob reads the layout's blob h, refusing more than limit bytes and
// content that does not hash to h.
func (l layoutImage) blob(h v1.Hash, what string, limit int64) ([]byte, error) {
	if h.Algorithm != "sha256" {
		return nil, fmt.Errorf("%s %s: unsupported digest algorithm", what, h)
	}
	f, err := os.Open(filepath.Join(l.dir, "blobs", h.Algorithm, h.Hex))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		st, _ := f.Stat()
		return nil, errTooLarge{what, st.Size(), limit}
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != h.Hex {
		return nil, fmt.Errorf("%s %s: %w", what, h, errBlobDigest)
	}
	return b, nil
}

func (l layoutImage) RawManifest() ([]byte, error) {
	d, err := l.Image.Digest() // the index's descriptor: nothing read
	if err != nil {
		return nil, err
	}
	return l.blob(d, "manifest", maxLayoutJSON)
}

func (l layoutImage) Manifest() (*v1.Manifest, error) {
	raw, err := l.RawManifest()
	if err != nil {
		return nil, err
	}
	return v1.ParseManifest(bytes.NewReader(raw))
}

func (l layoutImage) RawConfigFile() ([]byte, error) {
	m, err := l.Manifest()
	if err != nil {
		return nil, err
	}
	return l.blob(m.Config.Digest, "image config", maxConfigSize)
}

func (l layoutImage) ConfigName() (v1.Hash, error) {
	if _, err := l.RawConfigFile(); err != nil { // checks it against the digest
		return v1.Hash{}, err
	}
	m, err := l.Manifest()
	if err != nil {
		return v1.Hash{}, err
	}
	return m.Config.Digest, nil
}
