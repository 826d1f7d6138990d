package scanner

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// A docker save archive (docker-archive:) is read in place, as ociArchive
// reads OCI archives: the tar is indexed once (where each entry's bytes
// start and how long they are), manifest.json and the config are read from
// it, and each layer is one section of the file, read once. This is written
// here because go-containerregistry's tarball package decompresses a gzip
// layer to learn its DiffID, and hashes every compressed layer to build a
// manifest, before the scan reads it again.

// saveDescriptor is one image of a docker save manifest.json.
type saveDescriptor struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// pickSaved chooses the image of a manifest.json by tag ("" when the
// archive holds one image).
func pickSaved(raw []byte, ref string) (*saveDescriptor, error) {
	var m []saveDescriptor
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("not a docker-archive: manifest.json: %w", err)
	}
	if ref == "" {
		if len(m) != 1 {
			return nil, fmt.Errorf("the archive holds %d images: pick one with docker-archive:PATH:NAME:TAG", len(m))
		}
		return &m[0], nil
	}
	want, err := name.NewTag(ref)
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	for i := range m {
		for _, t := range m[i].RepoTags {
			if tag, err := name.NewTag(t); err == nil && tag.Name() == want.Name() {
				return &m[i], nil
			}
		}
	}
	return nil, fmt.Errorf("no image tagged %s in the archive", ref)
}

// savedConfig parses an archive's config and checks it against the digest
// its name carries ("HEX.json", "blobs/sha256/HEX"), as docker load does.
func savedConfig(name string, raw []byte) (*v1.ConfigFile, v1.Hash, error) {
	sum := sha256.Sum256(raw)
	id := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	if want := digestInName(name); want != "" && want != id.Hex {
		return nil, v1.Hash{}, fmt.Errorf("config %s: %w: it hashes to %s", name, ErrDigestMismatch, id)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("config %s: %w", name, err)
	}
	return cfg, id, nil
}

// digestInName returns the hex digest an archive entry is named by, if any.
func digestInName(p string) string {
	base := strings.TrimSuffix(path.Base(p), ".json")
	if len(base) == 64 && isAlnum(base) {
		return base
	}
	return ""
}

// checkSaved refuses, as docker load does, a manifest whose layers do not
// pair with the config's diff_ids, or that lists one file twice for two
// different diff_ids.
func checkSaved(d *saveDescriptor, cfg *v1.ConfigFile, l links) error {
	if len(d.Layers) != len(cfg.RootFS.DiffIDs) {
		return fmt.Errorf("%w: manifest.json lists %d layers and the config %d diff_ids", errMalformed, len(d.Layers), len(cfg.RootFS.DiffIDs))
	}
	seen := map[string]int{}
	for i, p := range d.Layers {
		p = l.resolve(p)
		if j, ok := seen[p]; ok && cfg.RootFS.DiffIDs[j] != cfg.RootFS.DiffIDs[i] {
			return fmt.Errorf("%w: layers %d and %d are the same file %s with two different diff_ids", errMalformed, j+1, i+1, p)
		}
		seen[p] = i
	}
	return nil
}

func cleanEntry(n string) string { return strings.TrimPrefix(path.Clean("/"+n), "/") }

// links records an archive's symbolic links: docker save writes a layer
// the image holds twice once, and the second as a link to the first.
type links map[string]string

func (l links) add(hdr *tar.Header) {
	name := cleanEntry(hdr.Name)
	target := hdr.Linkname
	if hdr.Typeflag == tar.TypeSymlink && !path.IsAbs(target) {
		target = path.Join(path.Dir(name), target)
	}
	l[name] = cleanEntry(target)
}

// resolve follows links from name, a few at most.
func (l links) resolve(name string) string {
	name = cleanEntry(name)
	for i := 0; i < 8; i++ {
		t, ok := l[name]
		if !ok {
			break
		}
		name = t
	}
	return name
}

// dockerArchive is a docker save tar indexed in place.
type dockerArchive struct {
	f       *os.File
	entries map[string]section
	links   links
}

func indexDockerArchive(f *os.File) (*dockerArchive, error) {
	or := &offsetReader{f: f}
	tr := tar.NewReader(or)
	a := &dockerArchive{f: f, entries: map[string]section{}, links: links{}}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not a docker-archive: %w", err)
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			a.entries[cleanEntry(hdr.Name)] = section{off: or.off, size: hdr.Size}
		case tar.TypeSymlink, tar.TypeLink:
			a.links.add(hdr)
		}
	}
	if _, ok := a.entries["manifest.json"]; !ok {
		return nil, errors.New("not a docker-archive: the tar has no manifest.json (make one with docker save)")
	}
	return a, nil
}

func (a *dockerArchive) small(name string) ([]byte, error) {
	s, ok := a.entries[a.links.resolve(name)]
	if !ok {
		return nil, fmt.Errorf("%s is not in the archive", name)
	}
	if s.size > maxLayoutJSON {
		return nil, fmt.Errorf("%s of %d bytes is over the limit", name, s.size)
	}
	return io.ReadAll(io.NewSectionReader(a.f, s.off, s.size))
}

// image returns the archive's image tagged ref ("" for its only image).
func (a *dockerArchive) image(ref string) (*archiveImage, error) {
	raw, err := a.small("manifest.json")
	if err != nil {
		return nil, err
	}
	d, err := pickSaved(raw, ref)
	if err != nil {
		return nil, err
	}
	rawCfg, err := a.small(d.Config)
	if err != nil {
		return nil, err
	}
	cfg, id, err := savedConfig(d.Config, rawCfg)
	if err != nil {
		return nil, err
	}
	if err := checkSaved(d, cfg, a.links); err != nil {
		return nil, err
	}
	img := &archiveImage{a: a, raw: rawCfg, cfg: cfg, id: id}
	for i, p := range d.Layers {
		s, ok := a.entries[a.links.resolve(p)]
		if !ok {
			return nil, fmt.Errorf("layer %d (%s) is not in the archive", i+1, p)
		}
		img.layers = append(img.layers, &archiveLayer{a: a, sec: s, diffID: cfg.RootFS.DiffIDs[i]})
	}
	return img, nil
}

// archiveImage is one image of a docker save archive. It has no registry
// manifest: Manifest, RawManifest and Digest say so.
type archiveImage struct {
	a      *dockerArchive
	raw    []byte
	cfg    *v1.ConfigFile
	id     v1.Hash
	layers []*archiveLayer
}

var _ v1.Image = (*archiveImage)(nil)

var errNoManifest = errors.New("a docker-archive image has no registry manifest")

func (i *archiveImage) Layers() ([]v1.Layer, error) {
	out := make([]v1.Layer, len(i.layers))
	for j, l := range i.layers {
		out[j] = l
	}
	return out, nil
}
func (i *archiveImage) MediaType() (types.MediaType, error)     { return types.DockerManifestSchema2, nil }
func (i *archiveImage) Size() (int64, error)                    { return 0, errNoManifest }
func (i *archiveImage) ConfigName() (v1.Hash, error)            { return i.id, nil }
func (i *archiveImage) ConfigFile() (*v1.ConfigFile, error)     { return i.cfg.DeepCopy(), nil }
func (i *archiveImage) RawConfigFile() ([]byte, error)          { return i.raw, nil }
func (i *archiveImage) Digest() (v1.Hash, error)                { return v1.Hash{}, errNoManifest }
func (i *archiveImage) Manifest() (*v1.Manifest, error)         { return nil, errNoManifest }
func (i *archiveImage) RawManifest() ([]byte, error)            { return nil, errNoManifest }
func (i *archiveImage) LayerByDigest(v1.Hash) (v1.Layer, error) { return nil, errNoManifest }
func (i *archiveImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	for _, l := range i.layers {
		if l.diffID == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no layer with diff_id %s", h)
}

// archiveLayer is one layer file of a docker save archive, stored
// uncompressed (docker save) or compressed (crane, ko, podman).
type archiveLayer struct {
	a      *dockerArchive
	sec    section
	diffID v1.Hash
}

var _ v1.Layer = (*archiveLayer)(nil)

func (l *archiveLayer) storage() Storage { return Storage{Stored: true} }

func (l *archiveLayer) open() *io.SectionReader {
	return io.NewSectionReader(l.a.f, l.sec.off, l.sec.size)
}

// DiffID is the config's diff_id (what the content must hash to: the scan
// checks it).
func (l *archiveLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// Digest hashes the stored bytes (reading them).
func (l *archiveLayer) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(l.open())
	return h, err
}
func (l *archiveLayer) Size() (int64, error) { return l.sec.size, nil }
func (l *archiveLayer) MediaType() (types.MediaType, error) {
	head := make([]byte, 4)
	n, _ := l.open().ReadAt(head, 0)
	switch {
	case bytes.HasPrefix(head[:n], gzipMagic[:2]):
		return types.DockerLayer, nil
	case bytes.HasPrefix(head[:n], zstdMagic):
		return types.OCILayerZStd, nil
	}
	return types.DockerUncompressedLayer, nil
}
func (l *archiveLayer) Compressed() (io.ReadCloser, error) { return io.NopCloser(l.open()), nil }
func (l *archiveLayer) Uncompressed() (io.ReadCloser, error) {
	r, closeR, err := decompress(bufio.NewReader(l.open()))
	if err != nil {
		return nil, err
	}
	return readCloser{Reader: r, close: closeR}, nil
}

type readCloser struct {
	io.Reader
	close func()
}

func (r readCloser) Close() error { r.close(); return nil }
