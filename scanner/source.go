package scanner

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/moby/moby/client"
)

// Source kinds, as written before the colon of a transport-prefixed input.
const (
	KindRegistry      = "registry"
	KindDockerArchive = "docker-archive"
	KindOCI           = "oci"
	KindOCIArchive    = "oci-archive"
	KindDaemon        = "docker-daemon"
	KindDir           = "dir"
)

// SourceOptions say how inputs are resolved to images.
type SourceOptions struct {
	// Platform picks the image from a multi-platform index. Default
	// linux/amd64.
	Platform *v1.Platform
	// Keychain provides registry credentials. Default: the Docker config
	// keychain (DOCKER_CONFIG, ~/.docker/config.json), anonymous otherwise.
	Keychain authn.Keychain
	// Transport carries registry requests; build it with NewTransport.
	// Default: NewTransport with no options.
	Transport http.RoundTripper
	// Mirrors are tried, in order, for images on Docker Hub before Docker
	// Hub itself, as dockerd's registry-mirrors are: host[:port] each.
	Mirrors []string
	// Insecure lists registries allowed over plain HTTP (the transport
	// must skip TLS verification for them too).
	Insecure []string
	// Credentials, if set, authenticate to the registry the image is
	// pulled from (the mirror, when one serves it) and to no other.
	Credentials *authn.Basic
	// AllPlatforms makes OpenAll return every image of an index.
	AllPlatforms bool
	// AllowForeignLayers lets a layer the registry does not serve be
	// fetched from the URLs its manifest entry names (foreign layers);
	// otherwise reading it fails with a *ForeignLayerError.
	AllowForeignLayers bool
	// Logger, if set, is told at debug level which registries and
	// mirrors are tried for an image, and why one is passed over. It
	// never receives a credential.
	Logger *slog.Logger
}

// Target is an input resolved to an image or a filesystem path.
type Target struct {
	Input  string
	Kind   string
	Image  v1.Image // nil for dir targets
	Path   string   // the directory or file of a dir target
	Digest string   // manifest digest when the source has one cheaply
	Ref    string   // for registry images, the reference pulled (a mirror's, if one served it)

	stream     *streamSource     // an archive read front to back (the daemon, docker save | gzip)
	signatures *SignatureSubject // where its signatures are looked up, if it can carry any
	cleanup    func()
}

// Close releases what Open made for the target (an open archive file, a
// daemon connection).
func (t *Target) Close() {
	if t.cleanup != nil {
		t.cleanup()
		t.cleanup = nil
	}
}

// InputError is an input that cannot be resolved: a bad reference, a
// missing file, a file that is not an image.
type InputError struct {
	Input string
	Err   error
}

func (e *InputError) Error() string { return fmt.Sprintf("%s: %v", e.Input, e.Err) }
func (e *InputError) Unwrap() error { return e.Err }

// Open resolves an input: a registry reference (Docker Hub by default), a
// transport-prefixed path (docker-archive:, oci:, oci-archive:, dir:), a
// docker-daemon: reference, or an existing local path, whose kind is told
// from its contents.
func Open(ctx context.Context, input string, opts SourceOptions) (*Target, error) {
	t, err := open(ctx, input, opts)
	if err != nil {
		var ie *InputError
		if errors.As(err, &ie) {
			return nil, err
		}
		return nil, &InputError{Input: input, Err: err}
	}
	if t.Input == "" {
		t.Input = input
	}
	return t, nil
}

// OpenAll is Open for --all-platforms: a registry reference or OCI layout
// whose index holds several platform images gives one target each, named
// "INPUT (os/arch)"; any other input gives its one target.
func OpenAll(ctx context.Context, input string, opts SourceOptions) ([]*Target, error) {
	if !opts.AllPlatforms {
		t, err := Open(ctx, input, opts)
		if err != nil {
			return nil, err
		}
		return []*Target{t}, nil
	}
	if opts.Platform == nil {
		opts.Platform = &v1.Platform{OS: "linux", Architecture: "amd64"}
	}
	wrap := func(err error) error {
		var ie *InputError
		if errors.As(err, &ie) {
			return err
		}
		return &InputError{Input: input, Err: err}
	}
	var ts []*Target
	var err error
	kind, rest, _ := strings.Cut(input, ":")
	switch {
	case kind == KindOCI:
		dir, _ := splitRef(rest)
		ts, err = ociAll(dir, input)
	case fileExists(input) && isDir(input) && fileExists(filepath.Join(input, "oci-layout")):
		ts, err = ociAll(input, input)
	case kind == KindDockerArchive || kind == KindOCIArchive || kind == KindDaemon || kind == KindDir || fileExists(input) || looksLikePath(input):
		t, err := Open(ctx, input, opts)
		if err != nil {
			return nil, err
		}
		return []*Target{t}, nil
	case kind != "docker" && checkReference(input) != nil:
		return nil, wrap(checkReference(input))
	default:
		ts, err = openRemoteAll(ctx, strings.TrimPrefix(strings.TrimPrefix(input, "docker:"), "//"), opts)
	}
	if err != nil {
		return nil, wrap(err)
	}
	for _, t := range ts {
		if t.Input == "" {
			t.Input = input // a plain manifest, or an index of one image
		}
	}
	return ts, nil
}

func ociAll(dir, input string) ([]*Target, error) {
	if err := checkLayoutBlobs(dir); err != nil {
		return nil, err
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("not an OCI layout: %w", err)
	}
	ts, err := indexTargets(idx, KindOCI, input)
	for _, t := range ts {
		t.Image = StoredImage(layoutImage{Image: t.Image, dir: dir}, layoutStorage)
		t.signatures = layoutSubject(KindOCI, idx, dir, t.Digest, "")
	}
	return ts, err
}

// layoutStorage is how an OCI layout directory keeps its layers: as stored
// blobs named by digest, which go-containerregistry does not check on read.
var layoutStorage = Storage{Stored: true, HasDigest: true}

// ociArchiveStorage is how an oci-archive keeps its layers: blobs named by
// digest, which the archive reader checks as they are read.
var ociArchiveStorage = Storage{Stored: true, HasDigest: true, DigestChecked: true}

// remoteStorage is how a registry serves layers: blobs named by digest,
// which go-containerregistry checks as they are read, over a network.
var remoteStorage = Storage{Stored: true, HasDigest: true, DigestChecked: true, Refetch: true}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func isDir(p string) bool { st, err := os.Stat(p); return err == nil && st.IsDir() }

func open(ctx context.Context, input string, opts SourceOptions) (*Target, error) {
	if opts.Platform == nil {
		opts.Platform = &v1.Platform{OS: "linux", Architecture: "amd64"}
	}
	kind, rest, ok := strings.Cut(input, ":")
	if ok {
		switch kind {
		case KindDockerArchive:
			p, ref := splitRef(rest)
			return openDockerArchive(p, ref)
		case KindOCI:
			return openOCI(rest, opts.Platform)
		case KindOCIArchive:
			return openOCIArchive(rest, opts)
		case KindDaemon:
			return openDaemon(ctx, rest)
		case KindDir:
			if err := statInput(rest); err != nil {
				return nil, err
			}
			return &Target{Kind: KindDir, Path: rest}, nil
		case "docker":
			return openRemote(ctx, strings.TrimPrefix(rest, "//"), opts)
		}
	}
	if _, err := os.Stat(input); err == nil {
		return openLocal(input, opts)
	} else if looksLikePath(input) {
		return nil, statInput(input)
	}
	if err := checkReference(input); err != nil {
		return nil, err
	}
	return openRemote(ctx, input, opts)
}

// looksLikePath tells a missing file from a registry reference.
func looksLikePath(s string) bool {
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") || strings.HasPrefix(s, "~") {
		return true
	}
	for _, ext := range []string{".tar", ".tar.gz", ".tgz", ".jar", ".war", ".ear", ".zip", ".properties", ".yml", ".yaml", ".jks", ".p12"} {
		if strings.HasSuffix(strings.ToLower(s), ext) {
			return true
		}
	}
	return false
}

// statInput checks that a path given as input exists, saying so plainly
// when it does not.
func statInput(p string) error {
	_, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return errors.New("no such file or directory")
	}
	if err != nil {
		return err
	}
	return checkInput(p)
}

// splitRef splits "PATH:REF" (REF may hold colons, as in name:tag): the
// path is the shortest prefix before a colon that exists, unless the whole
// spec does.
func splitRef(spec string) (string, string) {
	if _, err := os.Stat(spec); err == nil {
		return spec, ""
	}
	for i := 0; i < len(spec); i++ {
		if spec[i] != ':' || i == 0 {
			continue
		}
		if _, err := os.Stat(spec[:i]); err == nil {
			return spec[:i], spec[i+1:]
		}
	}
	return spec, ""
}

// openDockerArchive reads a docker save tar in place (see dockerArchive), or
// one compressed whole with gzip as a stream; "docker-archive:PATH:REF"
// picks one image by tag from an archive that holds several.
func openDockerArchive(p, ref string) (*Target, error) {
	if err := statInput(p); err != nil {
		return nil, err
	}
	if ref != "" {
		if _, err := name.NewTag(ref); err != nil {
			return nil, fmt.Errorf("invalid image reference %q: %w", ref, err)
		}
	}
	kind, err := sniffTar(p)
	switch {
	case err != nil:
		return nil, err
	case kind == kindGzip:
		return gzipArchive(p, ref), nil
	case kind == "":
		return nil, errors.New("not a docker-archive: not a tar file (docker save writes one)")
	case kind != KindDockerArchive:
		return nil, errors.New("not a docker-archive: the tar has no manifest.json (make one with docker save)")
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	a, err := indexDockerArchive(f)
	if err == nil {
		var img *archiveImage
		if img, err = a.image(ref); err == nil {
			return &Target{Kind: KindDockerArchive, Image: img, cleanup: func() { f.Close() }}, nil
		}
	}
	f.Close()
	return nil, err
}

// gzipArchive is a docker save archive compressed whole (docker save |
// gzip), read as a stream.
func gzipArchive(p, ref string) *Target {
	open := func(context.Context) (io.ReadCloser, error) { return os.Open(p) }
	return &Target{Kind: KindDockerArchive, stream: &streamSource{open: open, gzip: true, ref: ref}}
}

// openOCI reads an OCI image layout directory. "oci:DIR:REF" picks the
// manifest whose org.opencontainers.image.ref.name is REF.
func openOCI(spec string, platform *v1.Platform) (*Target, error) {
	dir, ref := splitRef(spec)
	return openOCILayout(dir, ref, platform)
}

func openOCILayout(dir, ref string, platform *v1.Platform) (*Target, error) {
	if err := statInput(dir); err != nil {
		return nil, err
	}
	if err := checkLayoutBlobs(dir); err != nil {
		return nil, err
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("not an OCI layout: %w", err)
	}
	img, digest, err := pickImage(idx, dir, ref, platform, 0)
	if err != nil {
		return nil, err
	}
	return &Target{Kind: KindOCI, Image: StoredImage(layoutImage{Image: img, dir: dir}, layoutStorage), Digest: digest, signatures: layoutSubject(KindOCI, idx, dir, digest, "")}, nil
}

// pickImage chooses an image from an index: by ref name if given, else the
// only image, else the one matching platform. Nested indexes are followed a
// few levels deep. dir, when the index is an OCI layout directory's, is
// where the manifests it reads to choose are read from, bounded (see
// layoutImage); an archive's index reads bounded already.
func pickImage(idx v1.ImageIndex, dir, ref string, platform *v1.Platform, depth int) (v1.Image, string, error) {
	if depth > 4 {
		return nil, "", errors.New("image indexes nested too deep")
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, "", err
	}
	var cands []v1.Descriptor
	for _, d := range im.Manifests {
		if ref != "" && d.Annotations["org.opencontainers.image.ref.name"] != ref {
			continue
		}
		if ref == "" && isAttached(d) {
			continue
		}
		cands = append(cands, d)
	}
	if ref == "" && len(cands) > 1 {
		// A referrer that says nothing of itself in the index (as
		// notation's --oci-layout signatures): its manifest names a
		// subject.
		kept := cands[:0]
		for _, d := range cands {
			if !referrer(idx, dir, d) {
				kept = append(kept, d)
			}
		}
		cands = kept
	}
	if len(cands) == 0 {
		if ref != "" {
			return nil, "", fmt.Errorf("no image named %q in the index", ref)
		}
		return nil, "", errors.New("the index holds no images")
	}
	chosen := cands[0]
	if len(cands) > 1 {
		found := false
		for _, d := range cands {
			if d.Platform != nil && d.Platform.Satisfies(*platform) {
				chosen, found = d, true
				break
			}
		}
		if !found {
			return nil, "", fmt.Errorf("the index holds %d images and none is for %s; pick one with --platform or oci:DIR:REF", len(cands), platformName(platform))
		}
	}
	if chosen.MediaType.IsIndex() {
		if dir != "" {
			if _, err := (layoutImage{dir: dir}).blob(chosen.Digest, "index", maxLayoutJSON); err != nil {
				return nil, "", err
			}
		}
		child, err := idx.ImageIndex(chosen.Digest)
		if err != nil {
			return nil, "", err
		}
		return pickImage(child, dir, "", platform, depth+1)
	}
	img, err := idx.Image(chosen.Digest)
	if err != nil {
		return nil, "", err
	}
	return img, chosen.Digest.String(), nil
}

// isAttached tells the manifests a layout keeps beside its images that
// are no images of their own: signatures and attestations, as referrers
// (an artifact type other than an image config's), as cosign's tags (sha256-<digest>.sig, .att, .sbom)
// or the referrers tag index (sha256-<digest>), or marked by cosign save.
func isAttached(d v1.Descriptor) bool {
	switch d.ArtifactType {
	case "", string(types.OCIConfigJSON), string(types.DockerConfigJSON):
		// an image (go-containerregistry writes its config's type)
	default:
		return true
	}
	switch d.Annotations["kind"] {
	case "dev.cosignproject.cosign/sigs", "dev.cosignproject.cosign/atts":
		return true
	}
	n := d.Annotations["org.opencontainers.image.ref.name"]
	if !strings.HasPrefix(n, "sha256-") {
		return false
	}
	h, _, _ := strings.Cut(n[len("sha256-"):], ".")
	return len(h) == 64 && isAlnum(h)
}

// referrer reports an image manifest of the index that names a subject:
// a signature or attestation attached to another manifest.
func referrer(idx v1.ImageIndex, dir string, d v1.Descriptor) bool {
	if !d.MediaType.IsImage() {
		return false
	}
	if dir != "" {
		// A layout's manifest blob is read bounded, whatever its
		// descriptor claims.
		raw, err := (layoutImage{dir: dir}).blob(d.Digest, "manifest", maxLayoutJSON)
		if err != nil {
			return false
		}
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		return err == nil && m.Subject != nil
	}
	img, err := idx.Image(d.Digest)
	if err != nil {
		return false
	}
	m, err := img.Manifest()
	return err == nil && m.Subject != nil
}

func platformName(p *v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// openOCIArchive reads a tar of an OCI layout in place (see ociArchive).
// "oci-archive:PATH:REF" picks a manifest by its ref name.
func openOCIArchive(spec string, opts SourceOptions) (*Target, error) {
	p, ref := splitRef(spec)
	if err := statInput(p); err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	a, err := indexOCIArchive(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	idx := &archIndex{a: a, raw: a.index}
	img, digest, err := pickImage(idx, "", ref, opts.Platform, 0)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Target{Kind: KindOCIArchive, Image: StoredImage(img, ociArchiveStorage), Digest: digest,
		signatures: layoutSubject(KindOCIArchive, idx, p, digest, ""), cleanup: func() { f.Close() }}, nil
}

// layoutName accepts the names an OCI layout consists of.
func layoutName(n string) bool {
	if n == "oci-layout" || n == "index.json" {
		return true
	}
	parts := strings.Split(n, "/")
	if len(parts) != 3 || parts[0] != "blobs" {
		return false
	}
	return isAlnum(parts[1]) && isAlnum(parts[2])
}

func isAlnum(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// openDaemon asks the Docker daemon (DOCKER_HOST) for the image and reads
// it as the daemon saves it, one pass over the stream (see streamSource):
// go-containerregistry's daemon source would hold the whole image in
// memory, or in a temp file, first.
func openDaemon(ctx context.Context, ref string) (*Target, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("invalid image reference: %w", err)
	}
	const unreachable = "cannot read the image from the Docker daemon (is it running and reachable through DOCKER_HOST?)"
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", unreachable, err)
	}
	_, _ = c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	ins, err := c.ImageInspect(ctx, r.String())
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: %s", unreachable, oneLine(err.Error()))
	}
	src := &streamSource{}
	if src.imageID, err = v1.NewHash(ins.ID); err != nil {
		c.Close()
		return nil, fmt.Errorf("the daemon's image ID %q: %w", ins.ID, err)
	}
	for _, l := range ins.RootFS.Layers {
		h, err := v1.NewHash(l)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("the daemon's layer %q: %w", l, err)
		}
		src.diffIDs = append(src.diffIDs, h)
	}
	// Saved by ID, so that the tag moving meanwhile changes nothing.
	src.open = func(ctx context.Context) (io.ReadCloser, error) {
		rc, err := c.ImageSave(ctx, []string{ins.ID})
		if err != nil {
			return nil, fmt.Errorf("%s: %s", unreachable, oneLine(err.Error()))
		}
		return rc, nil
	}
	return &Target{Kind: KindDaemon, stream: src, Digest: "", cleanup: func() { c.Close() }}, nil
}

// openLocal tells an existing path's kind from its contents: an OCI layout
// directory, any other directory, a docker save or OCI archive tar, or any
// other file (a jar, a keystore, a config file). A tar that is neither
// kind of image is refused rather than guessed at.
func openLocal(p string, opts SourceOptions) (*Target, error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if err := notRegular(info); err != nil {
		return nil, err
	}
	if info.IsDir() {
		if _, err := os.Stat(filepath.Join(p, "oci-layout")); err == nil {
			return openOCI(p, opts.Platform)
		}
		return &Target{Kind: KindDir, Path: p}, nil
	}
	kind, err := sniffTar(p)
	switch {
	case err != nil:
		return nil, err
	case kind == KindDockerArchive:
		return openDockerArchive(p, "")
	case kind == KindOCIArchive:
		return openOCIArchive(p, opts)
	case kind == kindGzip:
		if imageInGzip(p) {
			return gzipArchive(p, ""), nil
		}
	case kind == "tar":
		return nil, fmt.Errorf("not a container image: a tar without manifest.json (docker save) or oci-layout (OCI); to scan its files, use dir:%s", p)
	}
	return &Target{Kind: KindDir, Path: p}, nil
}

// kindGzip is what sniffTar says of a gzip file.
const kindGzip = "gzip"

// sniffTar reports "docker-archive" or "oci-archive" for image tars, "tar"
// for other tars, "gzip" for gzip files and "" for other files. It reads
// headers only, seeking past the contents.
func sniffTar(p string) (string, error) {
	f, err := openNoWait(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	magic := make([]byte, 3)
	if n, _ := io.ReadFull(f, magic); n == 3 && bytes.Equal(magic, gzipMagic) {
		return kindGzip, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	tr := tar.NewReader(f)
	kind := ""
	for i := 0; ; i++ {
		hdr, err := tr.Next()
		if err != nil {
			if i > 0 && errors.Is(err, io.EOF) {
				return kind, nil
			}
			if i == 0 {
				return "", nil // not a tar at all
			}
			return "", fmt.Errorf("reading tar: %w", err)
		}
		kind = "tar"
		switch path.Clean("/" + hdr.Name) {
		case "/manifest.json":
			return KindDockerArchive, nil
		case "/oci-layout":
			return KindOCIArchive, nil
		}
	}
}

// imageInGzip tells a gzip file holding an image archive (docker save |
// gzip) by its first tar entry, as docker save writes them: a layer
// directory named by a digest, or the names of an OCI layout or manifest.
func imageInGzip(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return false
	}
	defer zr.Close()
	hdr, err := tar.NewReader(zr).Next()
	if err != nil {
		return false
	}
	n := cleanEntry(hdr.Name)
	first, _, _ := strings.Cut(n, "/")
	switch {
	case n == "manifest.json" || n == "oci-layout" || n == "index.json" || n == "repositories" || first == "blobs":
		return true
	}
	// A layer directory or file named by a digest, as docker save and
	// go-containerregistry's tarball writer (crane, ko) name them.
	first = strings.TrimPrefix(first, "sha256:")
	for _, ext := range []string{".json", ".tar.gz", ".tgz", ".tar"} {
		first = strings.TrimSuffix(first, ext)
	}
	return len(first) == 64 && isAlnum(first)
}
