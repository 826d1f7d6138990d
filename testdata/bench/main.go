// Command bench measures peel on a generated ~1 GiB image (make bench).
//
// It writes, deterministically, an OCI image of 8 gzip layers, about 1 GiB
// uncompressed (text ~40 % of the bytes, compressible binaries ~40 %, jars
// ~20 %, some holding nested jars; 40 planted plaintext passwords in
// properties files, 10 of them inside jars), as an OCI archive tar. Then it
// measures, each as a separate process: the floor (read and decompress every
// layer, two at a time, with klauspost/compress's gzip, which peel uses),
// peel cold (empty layer cache), peel warm (the same cache again), and
// gitleaks (gitleaks dir IMAGE.tar --max-archive-depth 4, built from the
// gitleaks module in go.mod). It prints wall time, CPU time, peak RSS,
// MB/s, the ratio to the floor and planted secrets found, and appends the
// table to BENCHMARKS.md with the machine described.
//
// Usage: go run ./testdata/bench [-dir DIR] [-skip-gitleaks] [-md BENCHMARKS.md]
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/gzip"
)

const (
	layers       = 8
	layerBytes   = 128 << 20 // uncompressed, about
	planted      = 40
	genVersion   = "bench-image-2"
	secretPrefix = "BenchPw-"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "generate" {
		if err := generate(os.Args[2], filepath.Join(os.Args[2], "image.tar")); err != nil {
			fmt.Fprintln(os.Stderr, "generate:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 2 && os.Args[1] == "floor" {
		if err := floor(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		return
	}
	dir := flag.String("dir", filepath.Join(os.TempDir(), "peel-bench"), "working directory (the image is generated once and reused)")
	skipGitleaks := flag.Bool("skip-gitleaks", false, "do not measure gitleaks")
	md := flag.String("md", "BENCHMARKS.md", "file to append the table to (empty: none)")
	flag.Parse()
	if err := run(*dir, *skipGitleaks, *md); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// benchEnv is added to every measured process's environment (BENCH_ENV,
// space-separated assignments), to compare settings such as GOGC.
var benchEnv = strings.Fields(os.Getenv("BENCH_ENV"))

// measurement is one process's cost.
type measurement struct {
	name        string
	wall, cpu   time.Duration
	maxRSS      int64 // bytes
	found       int
	measureFind bool
}

func run(dir string, skipGitleaks bool, md string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	image := filepath.Join(dir, "image.tar")
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "VERSION")); string(b) != genVersion {
		fmt.Println("generating the bench image (once)…")
		// In a child process: Linux passes a process's peak RSS on to the
		// children it forks, and generating takes gigabytes.
		cmd := exec.Command(self, "generate", dir)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "VERSION"), []byte(genVersion), 0o644); err != nil {
			return err
		}
	}
	st, err := os.Stat(image)
	if err != nil {
		return err
	}
	uncompressed := int64(layers * layerBytes)

	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	peel := filepath.Join(bin, "peel")
	if err := goBuild(peel, "./cmd/peel"); err != nil {
		return err
	}
	var ms []measurement
	fl, err := measure("floor (gunzip all layers, 2 at a time)", self, "floor", image)
	if err != nil {
		return err
	}
	ms = append(ms, fl)

	cache := filepath.Join(dir, "cache")
	os.RemoveAll(cache)
	out := filepath.Join(dir, "peel.json")
	args := []string{"scan", "-q", "--show-secrets", "--fail-on", "none", "--cache-dir", cache, "-f", "json", "-o", out, "oci-archive:" + image}
	for _, name := range []string{"peel cold", "peel warm (layer cache)"} {
		m, err := measure(name, peel, args...)
		if err != nil {
			return err
		}
		m.found, m.measureFind = countPeel(out), true
		ms = append(ms, m)
	}
	if !skipGitleaks {
		gl := filepath.Join(bin, "gitleaks")
		if err := goBuild(gl, "github.com/zricethezav/gitleaks/v8"); err != nil {
			return err
		}
		rep := filepath.Join(dir, "gitleaks.json")
		// gitleaks tells archives by their names, and OCI blobs are named
		// by digest: it scans the same layer blobs as layer-N.tar.gz.
		m, err := measure("gitleaks dir --max-archive-depth 4", gl, "dir", filepath.Join(dir, "image-gitleaks.tar"), "--max-archive-depth", "4",
			"--report-format", "json", "--report-path", rep, "--exit-code", "0", "--no-banner", "--log-level", "error")
		if err != nil {
			return err
		}
		m.found, m.measureFind = countFile(rep), true
		ms = append(ms, m)
	}
	table := render(ms, fl.wall, uncompressed, st.Size())
	fmt.Print(table)
	if md == "" {
		return nil
	}
	f, err := os.OpenFile(md, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "\n## %s\n\n%s\n%s", time.Now().UTC().Format("2006-01-02 15:04 MST"), machine(), table)
	return err
}

func goBuild(out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s: %w", pkg, err)
	}
	return nil
}

func measure(name, bin string, args ...string) (measurement, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), benchEnv...)
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return measurement{}, fmt.Errorf("%s: %w", name, err)
	}
	m := measurement{name: name, wall: time.Since(start), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.maxRSS = ru.Maxrss * 1024
	}
	return m, nil
}

func countPeel(path string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), `"secret": "`+secretPrefix)
}

func countFile(path string) int {
	b, _ := os.ReadFile(path)
	seen := map[string]bool{}
	for _, part := range strings.Split(string(b), secretPrefix)[1:] {
		if len(part) >= 20 {
			seen[part[:20]] = true
		}
	}
	return len(seen)
}

func render(ms []measurement, floorWall time.Duration, uncompressed, compressed int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Image: %d gzip layers, %.0f MiB uncompressed, %.0f MiB compressed, %d planted passwords.\n\n",
		layers, float64(uncompressed)/(1<<20), float64(compressed)/(1<<20), planted)
	b.WriteString("| run | wall | CPU | peak RSS | MB/s (uncompressed) | × floor | planted found |\n|---|---|---|---|---|---|---|\n")
	for _, m := range ms {
		found := "-"
		if m.measureFind {
			found = fmt.Sprintf("%d / %d", m.found, planted)
		}
		fmt.Fprintf(&b, "| %s | %.2fs | %.2fs | %.0f MiB | %.0f | %.2f | %s |\n", m.name, m.wall.Seconds(), m.cpu.Seconds(),
			float64(m.maxRSS)/(1<<20), float64(uncompressed)/1e6/m.wall.Seconds(), m.wall.Seconds()/floorWall.Seconds(), found)
	}
	return b.String()
}

func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		mem = strings.Fields(strings.SplitN(string(b), "\n", 2)[0])[1] + " kB memory, "
	}
	return fmt.Sprintf("Machine: %d CPUs (%s), %s%s, %s/%s.\n", runtime.NumCPU(), cpu, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// floor reads every layer blob of the OCI archive and decompresses it, two
// layers at a time: the least any scanner of these layers must do.
func floor(image string) error {
	f, err := os.Open(image)
	if err != nil {
		return err
	}
	defer f.Close()
	type blob struct{ off, size int64 }
	var blobs []blob
	or := &offsetReader{f: f}
	tr := tar.NewReader(or)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if strings.HasPrefix(hdr.Name, "blobs/") && hdr.Size > 1<<20 {
			blobs = append(blobs, blob{or.off, hdr.Size})
		}
	}
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	errs := make(chan error, len(blobs))
	for _, b := range blobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			zr, err := gzip.NewReader(io.NewSectionReader(f, b.off, b.size))
			if err != nil {
				errs <- err
				return
			}
			if _, err := io.Copy(io.Discard, zr); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

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
	o.off = n
	return n, err
}

// generate writes the bench image as an OCI layout and tars it.
func generate(dir, image string) error {
	lay := filepath.Join(dir, "layout")
	os.RemoveAll(lay)
	img := empty.Image
	secret := 0
	for i := 0; i < layers; i++ {
		data := genLayer(i, &secret)
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			return err
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			return err
		}
		fmt.Printf("  layer %d: %d MiB\n", i+1, len(data)>>20)
	}
	p, err := layout.Write(lay, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img); err != nil {
		return err
	}
	if err := tarDir(lay, image); err != nil {
		return err
	}
	return gitleaksTar(img, filepath.Join(dir, "image-gitleaks.tar"))
}

// gitleaksTar writes the image's layer blobs, as stored, named
// layer-N.tar.gz, with the config, for gitleaks.
func gitleaksTar(img interface {
	Layers() ([]v1.Layer, error)
	RawConfigFile() ([]byte, error)
}, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	tw.WriteHeader(&tar.Header{Name: "config.json", Mode: 0o644, Size: int64(len(cfg)), Typeflag: tar.TypeReg})
	tw.Write(cfg)
	ls, err := img.Layers()
	if err != nil {
		return err
	}
	for i, l := range ls {
		size, err := l.Size()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("layer-%d.tar.gz", i+1), Mode: 0o644, Size: size, Typeflag: tar.TypeReg})
		_, err = io.Copy(tw, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return tw.Close()
}

// genLayer builds one layer's tar: ~40 % text, ~40 % compressible binary,
// ~20 % jars, and 5 planted passwords (layer-wide), some inside jars.
func genLayer(i int, secret *int) []byte {
	r := rand.New(rand.NewSource(int64(1000 + i)))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(1577836800, 0), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	budget := int64(layerBytes)
	text, bin, jars := budget*40/100, budget*40/100, budget*20/100
	n := 0
	for text > 0 {
		f := genText(r, 4<<10+r.Intn(60<<10))
		ext := []string{".java", ".js", ".py", ".md", ".html", ".xml", ".json", ".yml", ".properties", ".txt"}[r.Intn(10)]
		add(fmt.Sprintf("srv/app%d/src/%d/file%d%s", i, n%50, n, ext), f)
		text -= int64(len(f))
		n++
	}
	for k := 0; k < 5; k++ {
		props := fmt.Sprintf("server.port=8080\nspring.datasource.url=jdbc:postgresql://db/app\nspring.datasource.password=%s\n", plantedSecret(*secret))
		*secret++
		if k < 4 {
			add(fmt.Sprintf("srv/app%d/config/service%d/application.properties", i, k), []byte(props))
		} else {
			jars -= 0
			add(fmt.Sprintf("srv/app%d/lib/service-with-config.jar", i), genJar(r, 64, []byte(props), 0))
		}
	}
	for bin > 0 {
		f := genBinary(r, 64<<10+r.Intn(1<<20))
		add(fmt.Sprintf("usr/lib/app%d/lib%d.so", i, n), f)
		bin -= int64(len(f))
		n++
	}
	for jars > 0 {
		nested := 0
		if n%3 == 0 {
			nested = 2
		}
		f := genJar(r, 200+r.Intn(400), nil, nested)
		add(fmt.Sprintf("srv/app%d/lib/dep%d.jar", i, n), f)
		jars -= int64(len(f))
		n++
	}
	tw.Close()
	return buf.Bytes()
}

func plantedSecret(k int) string {
	r := rand.New(rand.NewSource(int64(k)))
	const chars = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
	b := []byte(secretPrefix)
	for i := 0; i < 20; i++ {
		b = append(b, chars[r.Intn(len(chars))])
	}
	return string(b)
}

var words = strings.Fields(`the of and to in is that for it as with was on be by this are or from at which an
have not but all were when we there can more if will one about up out them so some would other into has time
function return const var let import export class public private static void int string new null true false
config value name type data list map key index result error request response user service server client
http url path file load save read write open close start stop run test build deploy version release module`)

// genText writes source- and prose-like lines from a fixed vocabulary.
func genText(r *rand.Rand, n int) []byte {
	var b bytes.Buffer
	for b.Len() < n {
		indent := strings.Repeat("  ", r.Intn(4))
		b.WriteString(indent)
		for w := 3 + r.Intn(9); w > 0; w-- {
			b.WriteString(words[r.Intn(len(words))])
			if w > 1 {
				b.WriteByte(" .(,=_"[r.Intn(6)])
			}
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// genBinary writes bytes that compress about 3:1, as code and data do.
func genBinary(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	b[0], b[1], b[2], b[3] = 0x7f, 'E', 'L', 'F'
	for i := 4; i < n; {
		if r.Intn(3) == 0 {
			run := 8 + r.Intn(56)
			v := byte(r.Intn(4))
			for j := 0; j < run && i < n; j++ {
				b[i] = v
				i++
			}
		} else {
			b[i] = byte(r.Intn(256))
			i++
		}
	}
	return b
}

// genJar writes a jar of class-like entries, optionally with a properties
// file and nested jars (stored, as Spring Boot stores BOOT-INF/lib).
func genJar(r *rand.Rand, classes int, props []byte, nested int) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.Create("META-INF/MANIFEST.MF")
	w.Write([]byte("Manifest-Version: 1.0\r\n\r\n"))
	for c := 0; c < classes; c++ {
		w, _ := zw.Create(fmt.Sprintf("com/example/pkg%d/Class%d.class", c%20, c))
		cls := genBinary(r, 512+r.Intn(3000))
		cls[0], cls[1], cls[2], cls[3] = 0xCA, 0xFE, 0xBA, 0xBE
		w.Write(cls)
	}
	if props != nil {
		w, _ := zw.Create("BOOT-INF/classes/application.properties")
		w.Write(props)
	}
	for k := 0; k < nested; k++ {
		inner := genJar(r, 30, nil, 0)
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("BOOT-INF/lib/inner%d.jar", k), Method: zip.Store})
		w.Write(inner)
	}
	zw.Close()
	return b.Bytes()
}

func tarDir(dir, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: info.Size(), Typeflag: tar.TypeReg, ModTime: time.Unix(1577836800, 0)}); err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
