package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// epoch is the time of every synthesized directory, file and history entry.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// tree is a directory whose contents go into a layer, each path mapped by
// to (nil: as is) from its path under root ("/usr/share/…").
type tree struct {
	root string
	to   func(string) string
}

// memFile is a file made here rather than unpacked.
type memFile struct {
	path string // absolute, in the image
	data []byte
	mode int64
}

// layerSpec is one layer: trees merged in order (a later one's file wins)
// and files on top, with the history step that made it.
type layerSpec struct {
	name      string
	trees     []tree
	files     []memFile
	createdBy string
}

type entry struct {
	src  string // file on disk, or "" for a synthesized directory or memFile
	info fs.FileInfo
	link string
	mem  *memFile
}

// entries merges a layer's contents into image path -> entry.
func (ls layerSpec) entries() (map[string]entry, error) {
	es := map[string]entry{}
	for _, t := range ls.trees {
		err := filepath.WalkDir(t.root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(t.root, p)
			if rel == "." {
				return nil
			}
			ip := "/" + filepath.ToSlash(rel)
			if t.to != nil {
				ip = t.to(ip)
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			e := entry{src: p, info: info}
			if info.Mode()&fs.ModeSymlink != 0 {
				if e.link, err = os.Readlink(p); err != nil {
					return err
				}
			}
			if old, ok := es[ip]; ok && old.info.IsDir() && info.IsDir() {
				return nil
			}
			es[ip] = e
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for i := range ls.files {
		f := &ls.files[i]
		es[f.path] = entry{mem: f}
	}
	// Parent directories that no tree holds (a relocated tree's new home).
	for p := range es {
		for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
			if _, ok := es[d]; !ok {
				es[d] = entry{}
			}
		}
	}
	return es, nil
}

// writeTar writes the layer as a tar, in path order, to w.
func (ls layerSpec) writeTar(w io.Writer) error {
	es, err := ls.entries()
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for _, p := range sortedKeys(es) {
		e := es[p]
		name := strings.TrimPrefix(p, "/")
		switch {
		case e.mem != nil:
			mode := e.mem.mode
			if mode == 0 {
				mode = 0o644
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(e.mem.data)), Mode: mode, ModTime: epoch}); err != nil {
				return err
			}
			if _, err := tw.Write(e.mem.data); err != nil {
				return err
			}
		case e.info == nil:
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755, ModTime: epoch}); err != nil {
				return err
			}
		case e.info.IsDir():
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: int64(e.info.Mode().Perm()), ModTime: e.info.ModTime()}); err != nil {
				return err
			}
		case e.link != "":
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: e.link, Mode: 0o777, ModTime: e.info.ModTime()}); err != nil {
				return err
			}
		case e.info.Mode().IsRegular():
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: e.info.Size(), Mode: int64(e.info.Mode().Perm()), ModTime: e.info.ModTime()}); err != nil {
				return err
			}
			f, err := os.Open(e.src)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", e.src, err)
			}
		}
	}
	return tw.Close()
}

// writeLayer writes the layer gzip-compressed (fastest level) to file and
// returns it as a v1.Layer read from that file.
func (ls layerSpec) writeLayer(file string) (v1.Layer, error) {
	tmp := file + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, err
	}
	zw, err := gzip.NewWriterLevel(f, gzip.BestSpeed)
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := ls.writeTar(zw); err != nil {
		f.Close()
		return nil, fmt.Errorf("layer %s: %w", ls.name, err)
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, file); err != nil {
		return nil, err
	}
	return tarball.LayerFromFile(file, tarball.WithMediaType(types.OCILayer))
}

// imageSpec is an image: layers, then its config.
type imageSpec struct {
	layers     []v1.Layer
	createdBy  []string
	emptySteps map[int][]string // steps with no layer, recorded before layer i
	env        []string
	entrypoint []string
}

func (is imageSpec) build() (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	var err error
	step := func(s string) error {
		img, err = mutate.Append(img, mutate.Addendum{History: v1.History{CreatedBy: s, Created: v1.Time{Time: epoch}, EmptyLayer: true}})
		return err
	}
	for i, l := range is.layers {
		for _, s := range is.emptySteps[i] {
			if err := step(s); err != nil {
				return nil, err
			}
		}
		img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: is.createdBy[i], Created: v1.Time{Time: epoch}}})
		if err != nil {
			return nil, err
		}
	}
	for _, s := range is.emptySteps[len(is.layers)] {
		if err := step(s); err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Env = is.env
	cf.Config.Entrypoint = is.entrypoint
	return mutate.ConfigFile(img, cf)
}

// writeLayout writes images as a fresh OCI layout at dir, each under its
// ref name.
func writeLayout(dir string, refs []string, imgs []v1.Image) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	for i, img := range imgs {
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": refs[i]})); err != nil {
			return fmt.Errorf("writing %s to %s: %w", refs[i], dir, err)
		}
	}
	return nil
}

// corpusRef is the corpus image's ref name in its OCI layout.
const corpusRef = "corpus"

// buildCorpusImage writes out/corpus-oci: one layer per group of
// debian.txt and one with
// /app/node_modules. It is rebuilt only when its inputs change.
func buildCorpusImage(src, out string, pkgs []Package, trees map[string]string, nodeModules string) error {
	h := sha256.New()
	fmt.Fprintln(h, generatorVersion)
	for _, p := range pkgs {
		b, _ := os.ReadFile(trees[p.Name] + ".deb")
		fmt.Fprintln(h, p.Group, p.Name, string(b))
	}
	lock, err := os.ReadFile(filepath.Join(src, "npm", "package-lock.json"))
	if err != nil {
		return err
	}
	h.Write(lock)
	sum := hex.EncodeToString(h.Sum(nil))
	dir := filepath.Join(out, "corpus-oci")
	stamp := dir + ".stamp"
	if b, _ := os.ReadFile(stamp); string(b) == sum {
		return nil
	}
	os.Remove(stamp)
	layerDir := filepath.Join(out, "layers")
	if err := os.MkdirAll(layerDir, 0o755); err != nil {
		return err
	}
	var specs []layerSpec
	for _, g := range groups(pkgs) {
		ls := layerSpec{name: g}
		var names []string
		for _, p := range pkgs {
			if p.Group == g {
				ls.trees = append(ls.trees, tree{root: trees[p.Name]})
				names = append(names, p.Name+"="+p.Version)
			}
		}
		ls.createdBy = fmt.Sprintf("corpus layer %s: dpkg -x of %d Debian packages (testdata/realworld/debian.txt)", g, len(names))
		specs = append(specs, ls)
	}
	manifest, err := os.ReadFile(filepath.Join(src, "npm", "package.json"))
	if err != nil {
		return err
	}
	specs = append(specs, layerSpec{
		name:      "npm",
		trees:     []tree{{root: nodeModules, to: func(p string) string { return nodeApp + "node_modules" + p }}},
		files:     []memFile{{path: nodeApp + "package.json", data: manifest}, {path: nodeApp + "package-lock.json", data: lock}},
		createdBy: "corpus layer npm: npm ci --ignore-scripts (testdata/realworld/npm/package-lock.json)",
	})
	is := imageSpec{
		env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
			"JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64", "NODE_PATH=/app/node_modules"},
	}
	for _, ls := range specs {
		fmt.Fprintf(os.Stderr, "realworld: writing layer %s\n", ls.name)
		l, err := ls.writeLayer(filepath.Join(layerDir, ls.name+".tar.gz"))
		if err != nil {
			return err
		}
		is.layers = append(is.layers, l)
		is.createdBy = append(is.createdBy, ls.createdBy)
	}
	img, err := is.build()
	if err != nil {
		return err
	}
	if err := writeLayout(dir, []string{corpusRef}, []v1.Image{img}); err != nil {
		return err
	}
	return os.WriteFile(stamp, []byte(sum), 0o644)
}
