package scanner

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ociArchive reads an OCI image layout inside a tar in place: the tar is
// indexed once (where each blob's bytes start and how long they are) and
// blobs are read as sections of the file, so nothing is extracted. This is
// written here because go-containerregistry's layout package reads only
// directories. Blobs are checked against their digests as they are read.
type ociArchive struct {
	f     *os.File
	blobs map[string]section // "sha256:hex" → bytes in the tar
	index []byte             // index.json
}

type section struct{ off, size int64 }

// maxLayoutJSON bounds index.json and the manifests and configs read whole.
const maxLayoutJSON = 64 << 20

// offsetReader tracks the offset of a file read through archive/tar, which
// seeks past entry contents; after Next, the offset is where the entry's
// bytes start.
type offsetReader struct {
	f   *os.File
	off int64
}

func (o *offsetReader) Read(p []byte) (int, error) {
	n, err := o.f.Read(p)
	o.off += int64(n)
	return n, err
}

func (o *offsetReader) Seek(off int64, whence int) (int64, error) {
	n, err := o.f.Seek(off, whence)
	if err == nil {
		o.off = n
	}
	return n, err
}

func indexOCIArchive(f *os.File) (*ociArchive, error) {
	or := &offsetReader{f: f}
	tr := tar.NewReader(or)
	a := &ociArchive{f: f, blobs: map[string]section{}}
	sawLayout := false
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not an oci-archive: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		switch {
		case name == "oci-layout":
			sawLayout = true
		case name == "index.json":
			if hdr.Size > maxLayoutJSON {
				return nil, fmt.Errorf("index.json of %d bytes is over the limit", hdr.Size)
			}
			if a.index, err = io.ReadAll(tr); err != nil {
				return nil, err
			}
		case layoutName(name):
			parts := strings.Split(name, "/")
			a.blobs[parts[1]+":"+parts[2]] = section{off: or.off, size: hdr.Size}
		}
	}
	if !sawLayout || a.index == nil {
		return nil, errors.New("not an oci-archive: the tar has no oci-layout or index.json")
	}
	return a, nil
}

// blob opens a blob by digest, checking its bytes against the digest as
// they are read.
func (a *ociArchive) blob(h v1.Hash) (io.ReadCloser, int64, error) {
	s, ok := a.blobs[h.String()]
	if !ok {
		return nil, 0, fmt.Errorf("blob %s is not in the archive", h)
	}
	r := io.NewSectionReader(a.f, s.off, s.size)
	if h.Algorithm != "sha256" {
		return nil, 0, fmt.Errorf("blob %s: unsupported digest algorithm", h)
	}
	return io.NopCloser(&verifyingReader{r: r, h: sha256.New(), want: h.Hex, size: s.size}), s.size, nil
}

func (a *ociArchive) blobBytes(h v1.Hash) ([]byte, error) {
	rc, size, err := a.blob(h)
	if err != nil {
		return nil, err
	}
	if size > maxLayoutJSON {
		return nil, fmt.Errorf("blob %s of %d bytes is over the limit", h, size)
	}
	return io.ReadAll(rc)
}

// errBlobDigest marks a blob of an archive whose bytes do not hash to its
// digest.
var errBlobDigest = errors.New("blob does not match its digest")

// verifyingReader fails at the end of a blob whose bytes do not hash to
// its digest.
type verifyingReader struct {
	r    io.Reader
	h    hash.Hash
	want string
	size int64
	n    int64
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if errors.Is(err, io.EOF) {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			return n, fmt.Errorf("%w: read %d bytes, got sha256:%s, want sha256:%s", errBlobDigest, v.n, got, v.want)
		}
	}
	return n, err
}

// archIndex is the archive's index.json, or a nested index, as a
// v1.ImageIndex.
type archIndex struct {
	a   *ociArchive
	raw []byte
}

var _ v1.ImageIndex = (*archIndex)(nil)

func (x *archIndex) MediaType() (types.MediaType, error) {
	m, err := x.IndexManifest()
	if err != nil {
		return "", err
	}
	if m.MediaType == "" {
		return types.OCIImageIndex, nil
	}
	return m.MediaType, nil
}
func (x *archIndex) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(x.raw))
	return h, err
}
func (x *archIndex) Size() (int64, error)         { return int64(len(x.raw)), nil }
func (x *archIndex) RawManifest() ([]byte, error) { return x.raw, nil }
func (x *archIndex) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(x.raw))
}
func (x *archIndex) Image(h v1.Hash) (v1.Image, error) {
	raw, err := x.a.blobBytes(h)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&archImage{a: x.a, raw: raw})
}

// Blob opens any blob of the archive, as a layout's index does (the
// signature lookup reads referrers through it).
func (x *archIndex) Blob(h v1.Hash) (io.ReadCloser, error) {
	rc, _, err := x.a.blob(h)
	return rc, err
}

func (x *archIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	raw, err := x.a.blobBytes(h)
	if err != nil {
		return nil, err
	}
	return &archIndex{a: x.a, raw: raw}, nil
}

// archImage is one image manifest of the archive.
type archImage struct {
	a   *ociArchive
	raw []byte
}

var _ partial.CompressedImageCore = (*archImage)(nil)

func (m *archImage) RawManifest() ([]byte, error) { return m.raw, nil }
func (m *archImage) manifest() (*v1.Manifest, error) {
	return v1.ParseManifest(bytes.NewReader(m.raw))
}
func (m *archImage) MediaType() (types.MediaType, error) {
	var mt struct{ MediaType types.MediaType }
	if err := json.Unmarshal(m.raw, &mt); err != nil {
		return "", err
	}
	if mt.MediaType == "" {
		return types.OCIManifestSchema1, nil
	}
	return mt.MediaType, nil
}
func (m *archImage) RawConfigFile() ([]byte, error) {
	mf, err := m.manifest()
	if err != nil {
		return nil, err
	}
	return m.a.blobBytes(mf.Config.Digest)
}
func (m *archImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	mf, err := m.manifest()
	if err != nil {
		return nil, err
	}
	for i, l := range mf.Layers {
		if l.Digest == h {
			// The DiffID comes from the config: without it,
			// go-containerregistry would decompress the layer to hash it.
			cfg, err := m.RawConfigFile()
			if err != nil {
				return nil, err
			}
			cf, err := v1.ParseConfigFile(bytes.NewReader(cfg))
			if err != nil {
				return nil, err
			}
			var diffID v1.Hash
			if i < len(cf.RootFS.DiffIDs) {
				diffID = cf.RootFS.DiffIDs[i] // else the scan refuses the image
			}
			return &archLayer{a: m.a, desc: l, diffID: diffID}, nil
		}
	}
	if mf.Config.Digest == h {
		return &archLayer{a: m.a, desc: mf.Config}, nil
	}
	return nil, fmt.Errorf("layer %s is not in the manifest", h)
}

// archLayer is a layer blob of the archive.
type archLayer struct {
	a      *ociArchive
	desc   v1.Descriptor
	diffID v1.Hash
}

// DiffID implements partial.WithDiffID.
func (l *archLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }

func (l *archLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *archLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *archLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *archLayer) Compressed() (io.ReadCloser, error) {
	rc, size, err := l.a.blob(l.desc.Digest)
	if err != nil {
		return nil, err
	}
	if size != l.desc.Size {
		return nil, fmt.Errorf("%w: blob %s holds %d bytes, the manifest says %d", errBlobDigest, l.desc.Digest, size, l.desc.Size)
	}
	return rc, nil
}
