package scanner

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ForeignLayerError is a layer the registry does not serve and whose
// manifest entry points at other URLs (a foreign layer). Those are not
// fetched unless the caller allows it: the image's author chooses them,
// so fetching them is a request to any host an image names.
type ForeignLayerError struct {
	Digest string
	Hosts  []string // scheme://host of each URL; the rest (a path, a token) is not shown
	Err    error    // why the registry did not serve the layer
}

func (e *ForeignLayerError) Error() string {
	return fmt.Sprintf("a foreign layer: the registry does not serve %s and its manifest points at %s, which is not fetched",
		e.Digest, strings.Join(e.Hosts, ", "))
}

func (e *ForeignLayerError) Unwrap() error { return e.Err }

// registryOnly is a registry image whose layers with foreign URLs are read
// from the registry alone: go-containerregistry falls back to those URLs
// when the registry fails to serve such a layer (remote.Image's
// remoteImageLayer.Compressed).
type registryOnly struct {
	v1.Image
	ref  name.Reference
	opts []remote.Option
}

func (i registryOnly) Layers() ([]v1.Layer, error) {
	ls, err := i.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for k, l := range ls {
		out[k] = l
		if d, err := partial.Descriptor(l); err == nil && len(d.URLs) > 0 {
			out[k] = &registryLayer{Layer: l, img: i, urls: d.URLs}
		}
	}
	return out, nil
}

// registryLayer reads a layer with foreign URLs from the registry only.
type registryLayer struct {
	v1.Layer
	img  registryOnly
	urls []string
}

func (l *registryLayer) fromRegistry() (v1.Layer, error) {
	d, err := l.Layer.Digest()
	if err != nil {
		return nil, err
	}
	rl, err := remote.Layer(l.img.ref.Context().Digest(d.String()), l.img.opts...)
	if err != nil {
		return nil, l.refused(d, err)
	}
	return rl, nil
}

func (l *registryLayer) refused(d v1.Hash, err error) error {
	var hosts []string
	for _, s := range l.urls {
		if u, perr := url.Parse(s); perr == nil && u.Host != "" {
			hosts = append(hosts, u.Scheme+"://"+u.Host)
		} else {
			hosts = append(hosts, "an unparsable URL")
		}
	}
	return &ForeignLayerError{Digest: d.String(), Hosts: hosts, Err: err}
}

func (l *registryLayer) Compressed() (io.ReadCloser, error) {
	rl, err := l.fromRegistry()
	if err != nil {
		return nil, err
	}
	rc, err := rl.Compressed()
	if err != nil {
		d, _ := l.Layer.Digest()
		return nil, l.refused(d, err)
	}
	return rc, nil
}

func (l *registryLayer) Uncompressed() (io.ReadCloser, error) {
	rl, err := l.fromRegistry()
	if err != nil {
		return nil, err
	}
	rc, err := rl.Uncompressed()
	if err != nil {
		d, _ := l.Layer.Digest()
		return nil, l.refused(d, err)
	}
	return rc, nil
}
