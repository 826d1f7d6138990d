// Command bench measures peel on a generated ~1 GiB image (make bench), on
// every way of handing it an image.
//
// It writes, deterministically, an image of 8 gzip layers, about 1 GiB
// uncompressed (text ~40 % of the bytes, compressible binaries ~40 %, jars
// ~20 %, some holding nested jars; 40 planted plaintext passwords in
// properties files, 8 of them inside jars), and hands it over as each
// input users give: a registry (Debian's docker-registry on 127.0.0.1,
// TLS and htpasswd, as testdata/registry runs it), an OCI layout
// directory (oci:), an OCI archive (oci-archive:), a docker-archive with
// gzip layers (as crane, ko and podman write it), the docker save of the
// image loaded into a Docker daemon (uncompressed layers) and that daemon
// itself (docker-daemon:; Debian's dockerd, started here as root, vfs).
// For each input it measures, in rounds that alternate the runs, each as a
// process of its own: the floor (read and decompress its layers, two at a
// time; for the daemon, read its save stream), peel cold (empty layer
// cache), peel warm (the cache cold filled) and trivy's secret scanner
// (.tools/bin/trivy, make bench-tools). It prints the medians of wall
// time, CPU time and peak RSS (the VmHWM of the process, polled), the
// ratio to the input's floor and the planted secrets found, and appends
// the table to BENCHMARKS.md with the machine and its load described.
//
// Usage: go run ./testdata/bench [-dir DIR] [-rounds N] [-inputs a,b] [-md BENCHMARKS.md] [-gitleaks]
package main

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/gzip"
	"github.com/moby/moby/client"

	"github.com/peelscan/peel/internal/dockertest"
	"github.com/peelscan/peel/internal/regtest"
)

const (
	layers       = 8
	layerBytes   = 128 << 20 // uncompressed, about
	planted      = 40
	genVersion   = "bench-image-3"
	secretPrefix = "BenchPw-"
	imageTag     = "bench/app:1"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "generate" {
		if err := generate(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "generate:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 3 && os.Args[1] == "floor" {
		if err := floor(os.Args[2], os.Args[3:]); err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		return
	}
	dir := flag.String("dir", filepath.Join(os.TempDir(), "peel-bench"), "working directory (the image is generated once and reused)")
	rounds := flag.Int("rounds", 3, "rounds of alternating runs; the table shows medians")
	only := flag.String("inputs", "", "comma-separated inputs to measure (default: all)")
	md := flag.String("md", "BENCHMARKS.md", "file to append the table to (empty: none)")
	withGitleaks := flag.Bool("gitleaks", false, "also measure gitleaks on the OCI archive (about 5 minutes)")
	flag.Parse()
	if err := run(*dir, *rounds, *only, *md, *withGitleaks); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// benchEnv is added to every measured process's environment (BENCH_ENV,
// space-separated assignments), to compare settings such as GOGC.
var benchEnv = strings.Fields(os.Getenv("BENCH_ENV"))

// measurement is one process's cost.
type measurement struct {
	wall, cpu time.Duration
	maxRSS    int64 // bytes
	found     int
}

// input is one way of handing the image over, with how to measure it.
type input struct {
	name  string
	peel  []string // peel scan's arguments after the flags
	env   []string // environment for peel and trivy
	floor []string // the floor subcommand's arguments
	trivy []string // trivy image's arguments naming the image
}

// row is one line of the table: a run of an input, measured each round.
type row struct {
	input, run string
	ms         []measurement
	counted    bool
}

func run(dir string, rounds int, only, md string, withGitleaks bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dir, _ = filepath.Abs(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "VERSION")); string(b) != genVersion {
		fmt.Println("generating the bench image (once)…")
		// In a child process: it takes gigabytes.
		cmd := exec.Command(self, "generate", dir)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "VERSION"), []byte(genVersion), 0o644); err != nil {
			return err
		}
	}
	st, err := os.Stat(filepath.Join(dir, "image.tar"))
	if err != nil {
		return err
	}
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	peel := filepath.Join(bin, "peel")
	if err := goBuild(peel, "./cmd/peel"); err != nil {
		return err
	}
	trivy, _ := filepath.Abs(filepath.Join(".tools", "bin", "trivy"))
	if _, err := os.Stat(trivy); err != nil {
		fmt.Println("no .tools/bin/trivy (make bench-tools installs it): trivy is not measured")
		trivy = ""
	}
	want := map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		if n != "" {
			want[n] = true
		}
	}
	var notes []string
	var inputs []input
	add := func(in input) {
		if len(want) == 0 || want[in.name] {
			inputs = append(inputs, in)
		}
	}

	// The registry: Debian's docker-registry, TLS and htpasswd auth.
	if len(want) == 0 || want["registry"] {
		regDir, err := os.MkdirTemp(dir, "registry-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(regDir)
		reg, stop, err := regtest.Launch(regDir)
		if err != nil {
			notes = append(notes, "registry not measured: "+err.Error())
		} else {
			defer stop()
			ref := reg.Host + "/" + imageTag
			if err := push(filepath.Join(dir, "layout"), ref, reg); err != nil {
				return err
			}
			cfgDir := filepath.Join(regDir, "docker-config")
			os.MkdirAll(cfgDir, 0o700)
			auth := base64.StdEncoding.EncodeToString([]byte(reg.User + ":" + reg.Password))
			os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, reg.Host, auth)), 0o600)
			add(input{name: "registry", peel: []string{"--ca-file", reg.CAFile, ref},
				env:   []string{"DOCKER_CONFIG=" + cfgDir, "SSL_CERT_FILE=" + reg.CAFile},
				floor: []string{"registry", ref, reg.CAFile, reg.User, reg.Password},
				trivy: []string{"--image-src", "remote", ref}})
		}
	}
	add(input{name: "oci", peel: []string{"oci:" + filepath.Join(dir, "layout")}, floor: []string{"oci", filepath.Join(dir, "layout")},
		trivy: []string{"--input", filepath.Join(dir, "layout")}})
	add(input{name: "oci-archive", peel: []string{"oci-archive:" + filepath.Join(dir, "image.tar")}, floor: []string{"archive", filepath.Join(dir, "image.tar")},
		trivy: []string{"--input", filepath.Join(dir, "image.tar")}})
	add(input{name: "docker-archive, gzip layers", peel: []string{"docker-archive:" + filepath.Join(dir, "image-gzip.tar")}, floor: []string{"archive", filepath.Join(dir, "image-gzip.tar")},
		trivy: []string{"--input", filepath.Join(dir, "image-gzip.tar")}})

	// The daemon: Debian's dockerd, the gzip docker-archive loaded into it,
	// and its docker save of the image.
	if len(want) == 0 || want["docker save"] || want["docker-daemon"] {
		ddir, err := os.MkdirTemp(dir, "dockerd-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(ddir)
		host, stop, err := dockertest.Launch(ddir)
		if err != nil {
			notes = append(notes, "docker save and docker-daemon not measured: "+err.Error())
		} else {
			defer stop()
			fmt.Println("loading the image into the daemon…")
			if err := dockertest.Load(context.Background(), host, filepath.Join(dir, "image-gzip.tar")); err != nil {
				return err
			}
			save := filepath.Join(dir, "image-save.tar")
			if err := dockerSave(host, imageTag, save); err != nil {
				return err
			}
			defer os.Remove(save)
			add(input{name: "docker save", peel: []string{save}, floor: []string{"archive", save}, trivy: []string{"--input", save}})
			add(input{name: "docker-daemon", peel: []string{"docker-daemon:" + imageTag}, env: []string{"DOCKER_HOST=" + host},
				floor: []string{"daemon", host, imageTag}, trivy: []string{"--image-src", "docker", "--docker-host", host, imageTag}})
		}
	}

	var rows []*row
	rowOf := map[string]*row{}
	get := func(in, r string, counted bool) *row {
		k := in + "\x00" + r
		if rowOf[k] == nil {
			rowOf[k] = &row{input: in, run: r, counted: counted}
			rows = append(rows, rowOf[k])
		}
		return rowOf[k]
	}
	for _, in := range inputs {
		get(in.name, "floor", false)
		get(in.name, "peel cold", true)
		get(in.name, "peel warm", true)
		if trivy != "" {
			get(in.name, "trivy", true)
		}
	}
	loads := []string{loadAvg()}
	trivyFails := map[string]bool{}
	out := filepath.Join(dir, "out.json")
	for round := 1; round <= rounds; round++ {
		for _, in := range inputs {
			fmt.Printf("round %d: %s\n", round, in.name)
			m, err := measure(in.env, self, append([]string{"floor"}, in.floor...)...)
			if err != nil {
				return fmt.Errorf("%s floor: %w", in.name, err)
			}
			get(in.name, "floor", false).ms = append(get(in.name, "floor", false).ms, m)
			cache := filepath.Join(dir, "cache")
			os.RemoveAll(cache)
			args := append([]string{"scan", "-q", "--show-secrets", "--fail-on", "none", "--cache-dir", cache, "-f", "json", "-o", out}, in.peel...)
			for _, r := range []string{"peel cold", "peel warm"} {
				os.Remove(out)
				m, err := measure(in.env, peel, args...)
				if err != nil {
					return fmt.Errorf("%s %s: %w", in.name, r, err)
				}
				m.found = countPeel(out)
				get(in.name, r, true).ms = append(get(in.name, r, true).ms, m)
			}
			if trivy != "" && !trivyFails[in.name] {
				os.Remove(out)
				targs := append([]string{"image", "--scanners", "secret", "--offline-scan", "--skip-db-update", "--skip-java-db-update",
					"--cache-backend", "memory", "--cache-dir", filepath.Join(dir, "trivy-cache"), "--quiet", "--format", "json", "--output", out}, in.trivy...)
				m, err := measure(in.env, trivy, targs...)
				if err != nil {
					// trivy does not read every input (an OCI archive, for one).
					trivyFails[in.name] = true
					msg := err.Error()
					if i := strings.LastIndex(msg, "* "); i >= 0 {
						msg = msg[i+2:]
					}
					notes = append(notes, fmt.Sprintf("trivy cannot read the %s input: %s", in.name, oneLine(msg)))
				} else {
					m.found = countTrivy(out)
					get(in.name, "trivy", true).ms = append(get(in.name, "trivy", true).ms, m)
				}
			}
			loads = append(loads, loadAvg())
		}
	}
	if withGitleaks {
		gl := filepath.Join(bin, "gitleaks")
		if err := goBuild(gl, "github.com/zricethezav/gitleaks/v8"); err != nil {
			return err
		}
		// gitleaks tells archives by their names, and OCI blobs are named
		// by digest: it scans the same layer blobs as layer-N.tar.gz.
		m, err := measure(nil, gl, "dir", filepath.Join(dir, "image-gitleaks.tar"), "--max-archive-depth", "4",
			"--report-format", "json", "--report-path", out, "--exit-code", "0", "--no-banner", "--log-level", "error")
		if err != nil {
			return err
		}
		m.found = countFile(out)
		get("oci-archive", "gitleaks dir --max-archive-depth 4", true).ms = []measurement{m}
	}
	table := render(rows, rounds, st.Size())
	fmt.Print(table)
	for _, n := range notes {
		fmt.Println(n)
	}
	if md == "" {
		return nil
	}
	f, err := os.OpenFile(md, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	var extra string
	for _, n := range notes {
		extra += "\n" + n + "\n"
	}
	_, err = fmt.Fprintf(f, "\n## %s\n\n%sLoad average (1 min) before and after each input's runs: %s.\n\n%s%s", time.Now().UTC().Format("2006-01-02 15:04 MST"), machine(), strings.Join(loads, ", "), table, extra)
	return err
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func goBuild(out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s: %w", pkg, err)
	}
	return nil
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// measure runs one process and takes its wall and CPU time (rusage) and
// its peak RSS: the VmHWM of its memory, polled while it runs (rusage
// would include this process's own peak, which Linux hands on through
// exec).
func measure(env []string, bin string, args ...string) (measurement, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), env...), benchEnv...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return measurement{}, err
	}
	peak := watchPeak(cmd.Process.Pid)
	err := cmd.Wait()
	m := measurement{wall: time.Since(start), maxRSS: <-peak}
	if err != nil {
		return m, fmt.Errorf("%w: %s", err, strings.TrimSpace(errb.String()))
	}
	m.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return m, nil
}

// watchPeak polls a process's VmHWM until it exits and sends the largest
// value seen, in bytes.
func watchPeak(pid int) <-chan int64 {
	ch := make(chan int64, 1)
	go func() {
		var peak int64
		for {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
			if err != nil {
				break
			}
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
					peak = max(peak, kb<<10)
				}
			}
			if strings.Contains(string(b), "State:\tZ") {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		ch <- peak
	}()
	return ch
}

func countPeel(path string) int {
	b, _ := os.ReadFile(path)
	seen := map[string]bool{}
	for _, part := range strings.Split(string(b), `"secret": "`+secretPrefix)[1:] {
		if len(part) >= 20 {
			seen[part[:20]] = true
		}
	}
	return len(seen)
}

// countTrivy counts the planted files trivy reports a secret in (it masks
// the secrets themselves): the properties files, and the jars.
func countTrivy(path string) int {
	b, _ := os.ReadFile(path)
	var rep struct {
		Results []struct {
			Target  string
			Secrets []struct{ Match string }
		}
	}
	json.Unmarshal(b, &rep)
	seen := map[string]bool{}
	for _, r := range rep.Results {
		for _, s := range r.Secrets {
			if strings.Contains(s.Match, "spring.datasource.password") {
				seen[r.Target] = true
			}
		}
	}
	return len(seen)
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

func median(ds []float64) float64 {
	s := append([]float64(nil), ds...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func render(rows []*row, rounds int, compressed int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Image: %d gzip layers, %.0f MiB uncompressed, %.0f MiB compressed, %d planted passwords. Medians of %d rounds; each round runs every input's floor, peel cold, peel warm and trivy in turn.\n\n",
		layers, float64(layers*layerBytes)/(1<<20), float64(compressed)/(1<<20), planted, rounds)
	b.WriteString("| input | run | wall | CPU | peak RSS | × floor | × trivy | planted found |\n|---|---|---|---|---|---|---|---|\n")
	stat := func(r *row, f func(measurement) float64) float64 {
		var v []float64
		for _, m := range r.ms {
			v = append(v, f(m))
		}
		return median(v)
	}
	wall := func(m measurement) float64 { return m.wall.Seconds() }
	find := func(in, run string) *row {
		for _, r := range rows {
			if r.input == in && r.run == run {
				return r
			}
		}
		return nil
	}
	for _, r := range rows {
		if len(r.ms) == 0 {
			continue
		}
		w := stat(r, wall)
		xFloor, xTrivy := "", ""
		if fl := find(r.input, "floor"); fl != nil && len(fl.ms) > 0 {
			xFloor = fmt.Sprintf("%.2f", w/stat(fl, wall))
		}
		if tr := find(r.input, "trivy"); tr != nil && len(tr.ms) > 0 && r.run != "floor" {
			xTrivy = fmt.Sprintf("%.2f", w/stat(tr, wall))
		}
		found := "-"
		if r.counted {
			found = fmt.Sprintf("%.0f / %d", stat(r, func(m measurement) float64 { return float64(m.found) }), planted)
		}
		fmt.Fprintf(&b, "| %s | %s | %.2fs | %.2fs | %.0f MiB | %s | %s | %s |\n", r.input, r.run, w,
			stat(r, func(m measurement) float64 { return m.cpu.Seconds() }),
			stat(r, func(m measurement) float64 { return float64(m.maxRSS) / (1 << 20) }), xFloor, xTrivy, found)
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

// push uploads the layout's image to the registry.
func push(layoutDir, ref string, reg *regtest.Registry) error {
	idx, err := layout.ImageIndexFromPath(layoutDir)
	if err != nil {
		return err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		return err
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return err
	}
	return remote.Write(r, img, remote.WithAuth(&authn.Basic{Username: reg.User, Password: reg.Password}), remote.WithTransport(reg.Transport))
}

// dockerSave writes the daemon's docker save of ref to path.
func dockerSave(host, ref, path string) error {
	c, err := daemonClient(host)
	if err != nil {
		return err
	}
	defer c.Close()
	rc, err := c.ImageSave(context.Background(), []string{ref})
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func daemonClient(host string) (*client.Client, error) {
	c, err := client.New(client.WithHost(host))
	if err != nil {
		return nil, err
	}
	_, err = c.Ping(context.Background(), client.PingOptions{NegotiateAPIVersion: true})
	return c, err
}

// floor reads every layer of the input and decompresses it, two layers at
// a time: the least any scanner of these layers must do. For the daemon it
// reads the save stream, which is all the daemon offers.
func floor(kind string, args []string) error {
	var blobs []func() (io.ReadCloser, error)
	switch kind {
	case "archive": // a tar holding the layers: oci-archive, docker-archive
		f, err := os.Open(args[0])
		if err != nil {
			return err
		}
		defer f.Close()
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
			if hdr.Size > 1<<20 {
				off, size := or.off, hdr.Size
				blobs = append(blobs, func() (io.ReadCloser, error) { return io.NopCloser(io.NewSectionReader(f, off, size)), nil })
			}
		}
	case "oci":
		idx, err := layout.ImageIndexFromPath(args[0])
		if err != nil {
			return err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return err
		}
		img, err := idx.Image(im.Manifests[0].Digest)
		if err != nil {
			return err
		}
		ls, err := img.Layers()
		if err != nil {
			return err
		}
		for _, l := range ls {
			d, _ := l.Digest()
			p := filepath.Join(args[0], "blobs", d.Algorithm, d.Hex)
			blobs = append(blobs, func() (io.ReadCloser, error) { return os.Open(p) })
		}
	case "registry": // REF CA USER PASSWORD: plain blob GETs, unverified
		ref, err := name.ParseReference(args[0])
		if err != nil {
			return err
		}
		ca, err := os.ReadFile(args[1])
		if err != nil {
			return err
		}
		rt := trusting(ca)
		auth := &authn.Basic{Username: args[2], Password: args[3]}
		img, err := remote.Image(ref, remote.WithAuth(auth), remote.WithTransport(rt))
		if err != nil {
			return err
		}
		m, err := img.Manifest()
		if err != nil {
			return err
		}
		repo := ref.Context()
		tr, err := transport.NewWithContext(context.Background(), repo.Registry, auth, rt, []string{repo.Scope(transport.PullScope)})
		if err != nil {
			return err
		}
		hc := &http.Client{Transport: tr}
		for _, l := range m.Layers {
			u := fmt.Sprintf("https://%s/v2/%s/blobs/%s", repo.RegistryStr(), repo.RepositoryStr(), l.Digest)
			blobs = append(blobs, func() (io.ReadCloser, error) {
				resp, err := hc.Get(u)
				if err != nil {
					return nil, err
				}
				if resp.StatusCode != http.StatusOK {
					resp.Body.Close()
					return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
				}
				return resp.Body, nil
			})
		}
	case "daemon": // HOST REF
		c, err := daemonClient(args[0])
		if err != nil {
			return err
		}
		defer c.Close()
		rc, err := c.ImageSave(context.Background(), []string{args[1]})
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = io.Copy(io.Discard, rc)
		return err
	default:
		return fmt.Errorf("unknown floor %q", kind)
	}
	if len(blobs) == 0 {
		return errors.New("no layers")
	}
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	errs := make(chan error, len(blobs))
	for _, open := range blobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- drain(open)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// drain reads a layer, decompressing it if it is gzip.
func drain(open func() (io.ReadCloser, error)) error {
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	br := bufioReader(rc)
	head, _ := br.Peek(2)
	var r io.Reader = br
	if bytes.Equal(head, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return err
		}
		r = zr
	}
	_, err = io.Copy(io.Discard, r)
	return err
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

// generate writes the bench image as an OCI layout, tars it (the OCI
// archive), and writes it as a docker-archive of the same gzip blobs.
func generate(dir string) error {
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
	if err := tarDir(lay, filepath.Join(dir, "image.tar")); err != nil {
		return err
	}
	idx, err := layout.ImageIndexFromPath(lay)
	if err != nil {
		return err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	stored, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		return err
	}
	tag, err := name.NewTag(imageTag)
	if err != nil {
		return err
	}
	if err := tarball.WriteToFile(filepath.Join(dir, "image-gzip.tar"), tag, stored); err != nil {
		return err
	}
	return gitleaksTar(stored, filepath.Join(dir, "image-gitleaks.tar"))
}

func trusting(caPEM []byte) http.RoundTripper {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return tr
}

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 256<<10) }

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
