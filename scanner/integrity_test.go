package scanner_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/gzip"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/scanner"
)

var (
	genuineLayer = fixture.Tar(fixture.File{Name: "app/application.properties", Data: []byte("db.password=genuine-base-pw\n")})
	benignLayer  = fixture.Tar(fixture.File{Name: "app/readme.txt", Data: []byte("nothing here\n")})
)

// forge returns img with its config claiming diffIDs for its layers.
func forge(t *testing.T, img v1.Image, diffIDs ...v1.Hash) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs = diffIDs
	out, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sha(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sum)}
}

// cacheEntries counts the files in a cache directory.
func cacheEntries(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		// Entries sit in subdirectories; the files at the top mark the
		// directory's layout.
		if err == nil && !d.IsDir() && filepath.Dir(p) != filepath.Clean(dir) {
			n++
		}
		return nil
	})
	return n
}

func scanInput(t *testing.T, input string, c scanner.LayerCache) (*scanner.Result, error) {
	t.Helper()
	tgt, err := scanner.Open(context.Background(), input, scanner.SourceOptions{})
	if err != nil {
		t.Fatalf("Open(%s): %v", input, err)
	}
	defer tgt.Close()
	return scanner.New(scanner.Options{Cache: c}).Scan(context.Background(), tgt)
}

// The poisoning sequence through a registry: an image whose config claims
// the genuine layer's diff_id over a benign blob (whose digest is right) is
// refused, and leaves nothing in the cache; the genuine image scanned next
// with the same cache is read and its secret reported.
func TestCachePoisonedThroughRegistry(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()
	c := mustCache(t, dir)
	if err := remote.Write(mustRef(t, host+"/evil/app:1"), forge(t, layers(t, benignLayer), sha(genuineLayer))); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(mustRef(t, host+"/good/app:1"), layers(t, genuineLayer)); err != nil {
		t.Fatal(err)
	}
	_, err := scanInput(t, host+"/evil/app:1", c)
	if !errors.Is(err, scanner.ErrDigestMismatch) || !strings.Contains(err.Error(), "layer 1") {
		t.Fatalf("forged image: err = %v, want a digest mismatch naming layer 1", err)
	}
	if n := cacheEntries(t, dir); n != 0 {
		t.Errorf("the forged image left %d cache entries", n)
	}
	g, err := scanInput(t, host+"/good/app:1", c)
	if err != nil {
		t.Fatal(err)
	}
	if g.Stats.CachedLayers != 0 || len(g.Findings) != 1 || g.Findings[0].Secret != "genuine-base-pw" {
		t.Errorf("genuine image after the forged one: cached %d, findings %+v", g.Stats.CachedLayers, summarize(g.Findings))
	}
}

// dockerSave writes a classic docker save archive (uncompressed layer.tar)
// whose config claims diffID for the layer, whatever bytes layerTar holds.
func dockerSave(t *testing.T, p string, diffID v1.Hash, layerTar []byte) {
	t.Helper()
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID.String()}},
		"config": map[string]any{},
	})
	cfgName := sha(cfg).Hex + ".json"
	man, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{"example/app:1"}, "Layers": []string{"l1/layer.tar"}}})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		data []byte
	}{{cfgName, cfg}, {"l1/layer.tar", layerTar}, {"manifest.json", man}} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg})
		tw.Write(f.data)
	}
	tw.Close()
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The poisoning sequence through docker save archives (uncompressed
// layers, and compressed whole as docker save | gzip).
func TestCachePoisonedByForeignArchive(t *testing.T) {
	dir := t.TempDir()
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			cdir := filepath.Join(dir, fmt.Sprint(gz))
			c := mustCache(t, cdir)
			poison, genuine := filepath.Join(cdir+"-poison.tar"), filepath.Join(cdir+"-genuine.tar")
			dockerSave(t, poison, sha(genuineLayer), benignLayer)
			dockerSave(t, genuine, sha(genuineLayer), genuineLayer)
			if gz {
				for _, p := range []string{poison, genuine} {
					gzipFile(t, p)
				}
			}
			if _, err := scanInput(t, poison, c); !errors.Is(err, scanner.ErrDigestMismatch) {
				t.Fatalf("forged archive: err = %v, want a digest mismatch", err)
			}
			if n := cacheEntries(t, cdir); n != 0 {
				t.Errorf("the forged archive left %d cache entries", n)
			}
			g, err := scanInput(t, genuine, c)
			if err != nil {
				t.Fatal(err)
			}
			if g.Stats.CachedLayers != 0 || len(g.Findings) != 1 {
				t.Errorf("genuine archive after the forged one: cached %d, findings %+v", g.Stats.CachedLayers, summarize(g.Findings))
			}
			g, err = scanInput(t, genuine, c)
			if err != nil || len(g.Findings) != 1 {
				t.Fatalf("genuine again: %v %+v", err, g)
			}
			if !gz && g.Stats.CachedLayers != 1 {
				t.Errorf("genuine archive, scanned again: %d cached layers, want 1", g.Stats.CachedLayers)
			}
		})
	}
}

func gzipFile(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A docker-archive whose gzip layer no longer matches its diff_id (a tar
// header broken, the gzip rewritten) is refused, not scanned as far as it
// goes; the genuine archive scanned next with the same cache is read whole.
func TestCachePoisonedByUnverifiedLayer(t *testing.T) {
	dir := t.TempDir()
	c := mustCache(t, filepath.Join(dir, "cache"))
	layer := fixture.Tar(
		fixture.File{Name: "a/pad.txt", Data: []byte("hello\n")},
		fixture.File{Name: "z/app.properties", Data: []byte("db.password=genuine-layer-pw\n")},
	)
	good := filepath.Join(dir, "good.tar")
	ref, _ := name.NewTag("example/app:1")
	if err := tarball.WriteToFile(good, ref, layers(t, layer)); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.tar")
	rewriteLayers(t, good, bad, func(raw []byte) []byte {
		i := bytes.Index(raw, []byte("z/app.properties"))
		raw[i+148] ^= 0x55 // header checksum
		return raw
	})
	if _, err := scanInput(t, bad, c); !errors.Is(err, scanner.ErrDigestMismatch) || !strings.Contains(err.Error(), "layer 1") {
		t.Fatalf("broken layer: err = %v, want a digest mismatch naming layer 1", err)
	}
	if n := cacheEntries(t, filepath.Join(dir, "cache")); n != 0 {
		t.Errorf("the broken archive left %d cache entries", n)
	}
	r, err := scanInput(t, good, c)
	if err != nil {
		t.Fatal(err)
	}
	if r.Stats.CachedLayers != 0 || len(r.Findings) != 1 {
		t.Errorf("good archive after it: cached %d, findings %+v", r.Stats.CachedLayers, summarize(r.Findings))
	}
}

// rewriteLayers copies a docker-archive, passing each gzip layer's
// uncompressed bytes through edit and compressing them again.
func rewriteLayers(t *testing.T, in, out string, edit func([]byte) []byte) {
	t.Helper()
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	tr, tw := tar.NewReader(f), tar.NewWriter(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
			raw, _ := io.ReadAll(zr)
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			zw.Write(edit(raw))
			zw.Close()
			b = gz.Bytes()
			h.Size = int64(len(b))
		}
		tw.WriteHeader(h)
		tw.Write(b)
	}
	tw.Close()
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A layer cut short by the scan-wide --max-total-inflate budget is not
// cached: a later scan with a larger budget reads it again, whole.
func TestCacheKeepsBudgetCut(t *testing.T) {
	c := mustCache(t, t.TempDir())
	big := []byte(strings.Repeat("# padding padding padding\n", 40000) + "x.password=after-the-budget\n")
	jar := fixture.Zip(nil, fixture.File{Name: "BOOT-INF/classes/application.properties", Data: big})
	img := layers(t, fixture.Tar(fixture.File{Name: "app/app.jar", Data: jar}))
	small := scanImage(t, img, scanner.Options{Cache: c, MaxTotalInflate: 4096})
	if len(small.Findings) != 0 || len(small.Incomplete) == 0 || !strings.Contains(small.Incomplete[0].Reason, "max-total-inflate") {
		t.Fatalf("small budget: findings %+v incomplete %+v", summarize(small.Findings), small.Incomplete)
	}
	large := scanImage(t, img, scanner.Options{Cache: c})
	if large.Stats.CachedLayers != 0 || len(large.Findings) != 1 || len(large.Incomplete) != 0 {
		t.Errorf("default budget, same cache: cached %d, findings %+v, incomplete %+v", large.Stats.CachedLayers, summarize(large.Findings), large.Incomplete)
	}
	again := scanImage(t, img, scanner.Options{Cache: c})
	if again.Stats.CachedLayers != 1 || len(again.Findings) != 1 {
		t.Errorf("the complete result was not cached: cached %d, findings %d", again.Stats.CachedLayers, len(again.Findings))
	}
}

// TestCacheKeyHasEveryResultOption: each result option, changed alone,
// misses the entry the default options stored.
func TestCacheKeyHasEveryResultOption(t *testing.T) {
	c := mustCache(t, t.TempDir())
	img := layers(t, genuineLayer)
	scanImage(t, img, scanner.Options{Cache: c})
	for _, ro := range []scanner.ResultOptions{
		{MaxDepth: 3}, {MaxFileSize: 1 << 10}, {MaxArchiveSize: 1 << 20}, {MaxRatio: 50}, {MaxEntries: 10}, {Explain: true}, {IncludeDependencyTests: true},
	} {
		if r := scanImage(t, img, scanner.Options{Cache: c, ResultOptions: ro}); r.Stats.CachedLayers != 0 {
			t.Errorf("%+v used the entry cached under the defaults", ro)
		}
	}
	if r := scanImage(t, img, scanner.Options{Cache: c, MemoryBuffer: 1 << 20, Parallelism: 1}); r.Stats.CachedLayers != 1 {
		t.Error("tuning options changed the key")
	}
}

// ScanImage, on an image from anywhere, applies the same limits as the
// CLI's sources: the layer stream's compression ratio and the scan's
// inflate budget.
func TestLibraryPathAppliesLayerLimits(t *testing.T) {
	img := layers(t, fixture.Tar(
		fixture.File{Name: "app/application.properties", Data: []byte("db.password=lib-path-pw\n")},
		fixture.File{Name: "zz/zeros.img", Data: make([]byte, 64<<20)},
	))
	sc := scanner.New(scanner.Options{})
	a, err := sc.ScanImage(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sc.Scan(context.Background(), &scanner.Target{Kind: scanner.KindOCI, Image: img})
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*scanner.Result{"ScanImage": a, "Scan": b} {
		if len(r.Findings) != 1 || len(r.Incomplete) != 1 || !strings.Contains(r.Incomplete[0].Reason, "compression ratio is over --max-ratio") || r.Stats.Bytes > 40<<20 {
			t.Errorf("%s: bytes %d, findings %d, incomplete %+v; want the ratio limit to stop the layer", name, r.Stats.Bytes, len(r.Findings), r.Incomplete)
		}
	}
	c := scanImage(t, img, scanner.Options{MaxTotalInflate: 1 << 20})
	if len(c.Incomplete) != 1 || !strings.Contains(c.Incomplete[0].Reason, "max-total-inflate") {
		t.Errorf("budget: incomplete %+v", c.Incomplete)
	}
}

// readBytes is what this process has read through system calls so far
// (Linux's /proc/self/io rchar), or -1.
func readBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}

// A docker-archive with gzip layers (as crane, ko and podman write them)
// is read once per scan, with the cache too: its DiffIDs are computed on
// the stream the walker reads, not by decompressing each layer first.
func TestDockerArchiveReadOnce(t *testing.T) {
	if readBytes() < 0 {
		t.Skip("no /proc/self/io")
	}
	dir := t.TempDir()
	var files []fixture.File
	for i := 0; i < 200; i++ {
		files = append(files, fixture.File{Name: fmt.Sprintf("opt/f%03d.bin", i), Data: fixture.Binary("elf", "s"+strconv.Itoa(i), 64<<10)})
	}
	p := filepath.Join(dir, "a.tar")
	ref, _ := name.NewTag("example/app:1")
	if err := tarball.WriteToFile(p, ref, layers(t, fixture.Tar(files...))); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	for _, c := range []scanner.LayerCache{nil, mustCache(t, filepath.Join(dir, "cache"))} {
		before := readBytes()
		if _, err := scanInput(t, p, c); err != nil {
			t.Fatal(err)
		}
		read := readBytes() - before
		t.Logf("cache=%v: archive %d bytes, read %d (%.2fx)", c != nil, st.Size(), read, float64(read)/float64(st.Size()))
		if float64(read) > 1.2*float64(st.Size()) {
			t.Errorf("cache=%v: read %.2fx the archive", c != nil, float64(read)/float64(st.Size()))
		}
	}
}
