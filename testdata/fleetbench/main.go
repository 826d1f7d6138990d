// Command fleetbench measures a whole-registry scan spread over peel
// workers (make fleetbench): images and layers per hour for 1, 2 and 3
// workers on one queue and layer cache in Redis, and the share of layers
// served from that cache on a second run.
//
// It starts Debian's docker-registry (TLS, htpasswd, as testdata/registry)
// and redis-server (as testdata/redis) on 127.0.0.1, and pushes REPOS
// repositories of 5 tags each (the last one, latest, a second tag of 2.0),
// built as teams build images: three bases of real files of this machine's
// Debian packages (python3.11's library, perl's, and /usr/share/doc), a
// layer per repository (a real Python package from dist-packages) that its
// tags share, a small layer per tag, and planted secrets. For each worker
// count it starts that many `peel worker -c 2` processes on an empty
// database, runs `peel enqueue --wait` over the registry's catalog (cold),
// then again (warm: every layer in the cache), and stops the workers; it
// also times one `peel scan --all-tags` process on the same cache, cold.
// It prints the table, the projection to 110 000 images, and appends both
// to BENCHMARKS.md.
//
// Usage: go run ./testdata/fleetbench [-repos 12] [-md BENCHMARKS.md]
package main

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/internal/redistest"
	"github.com/peelscan/peel/internal/regtest"
)

func main() {
	repos := flag.Int("repos", 12, "repositories to push (5 tags each)")
	md := flag.String("md", "BENCHMARKS.md", "file to append the table to (empty: none)")
	flag.Parse()
	if err := run(*repos, *md); err != nil {
		log.Fatal(err)
	}
}

// dirLayer is a layer holding the regular files under dir, as they are on
// this machine, under prefix.
func dirLayer(dir, prefix string) (fixture.Layer, int64, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var size int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: filepath.ToSlash(filepath.Join(prefix, rel)), Size: int64(len(b)), Mode: 0o644, ModTime: fixture.Epoch}); err != nil {
			return err
		}
		size += int64(len(b))
		_, err = tw.Write(b)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	return fixture.Layer{Tar: buf.Bytes(), CreatedBy: "/bin/sh -c #(nop) COPY dir:" + dir + " in /" + prefix}, size, err
}

type bimage struct {
	repo, tag string
	img       v1.Image
}

func build(nrepos int) ([]bimage, int64, error) {
	var bases [][]fixture.Layer
	var total int64
	alpine := fixture.BaseLayers()[0]
	for _, d := range []struct{ dir, prefix string }{
		{"/usr/lib/python3.11", "usr/lib/python3.11"},
		{"/usr/lib/x86_64-linux-gnu/perl", "usr/lib/perl"},
		{"/usr/share/doc", "usr/share/doc"},
	} {
		l, n, err := dirLayer(d.dir, d.prefix)
		if err != nil {
			return nil, 0, err
		}
		if n == 0 {
			return nil, 0, fmt.Errorf("%s: no files on this machine", d.dir)
		}
		total += n
		bases = append(bases, []fixture.Layer{alpine, l})
	}
	pkgs, err := os.ReadDir("/usr/lib/python3/dist-packages")
	if err != nil {
		return nil, 0, err
	}
	var dirs []string
	for _, p := range pkgs {
		if p.IsDir() && !strings.Contains(p.Name(), "info") && !strings.HasPrefix(p.Name(), "_") {
			dirs = append(dirs, p.Name())
		}
	}
	sort.Strings(dirs)
	if len(dirs) < nrepos {
		return nil, 0, fmt.Errorf("only %d packages in dist-packages for %d repositories", len(dirs), nrepos)
	}
	var out []bimage
	for r := 0; r < nrepos; r++ {
		repo := fmt.Sprintf("team%d/%s", r%3, strings.ToLower(dirs[r]))
		shared, n, err := dirLayer("/usr/lib/python3/dist-packages/"+dirs[r], "app/lib/"+dirs[r])
		if err != nil {
			return nil, 0, err
		}
		total += n
		var v20 v1.Image
		for _, tag := range fixture.FleetTags {
			if tag == "latest" {
				out = append(out, bimage{repo, tag, v20})
				continue
			}
			conf := fmt.Sprintf("app.name=%s\napp.version=%s\n", repo, tag)
			if r%4 == 0 {
				conf += "spring.datasource.password=bench-" + strconv.Itoa(r) + "-pw-7Qx\n"
			}
			own := fixture.Layer{Tar: fixture.Tar(fixture.File{Name: "app/application.properties", Data: []byte(conf)}), CreatedBy: "/bin/sh -c #(nop) COPY file:application.properties in /app/"}
			layers := append(append([]fixture.Layer(nil), bases[r%3]...), shared, own)
			img, err := fixture.Image{Layers: layers}.Build()
			if err != nil {
				return nil, 0, err
			}
			if tag == "2.0" {
				v20 = img
			}
			out = append(out, bimage{repo, tag, img})
		}
	}
	return out, total, nil
}

type row struct {
	what                 string
	seconds, cpu         float64
	images, layers, read int
	cached, distinct     int
}

// cpuSeconds is the user and system time of the processes so far, from
// /proc (in clock ticks of 1/100 s).
func cpuSeconds(pids ...int) float64 {
	var ticks float64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		u, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		ticks += u + st
	}
	return ticks / 100
}

var readRE = regexp.MustCompile(`stopped: .* (\d+) layer\(s\) read, (\d+) from the cache`)

func run(nrepos int, mdPath string) error {
	tmp, err := os.MkdirTemp("", "peel-fleetbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	peel := filepath.Join(tmp, "peel")
	if out, err := exec.Command("go", "build", "-o", peel, "./cmd/peel").CombinedOutput(); err != nil {
		return fmt.Errorf("building peel: %v\n%s", err, out)
	}
	os.Mkdir(filepath.Join(tmp, "reg"), 0o700)
	os.Mkdir(filepath.Join(tmp, "redis"), 0o700)
	reg, stopReg, err := regtest.Launch(filepath.Join(tmp, "reg"))
	if err != nil {
		return err
	}
	defer stopReg()
	rds, stopRedis, err := redistest.Launch(filepath.Join(tmp, "redis"), redistest.Options{})
	if err != nil {
		return err
	}
	defer stopRedis()
	log.Printf("building %d images from this machine's files", nrepos*5)
	images, realBytes, err := build(nrepos)
	if err != nil {
		return err
	}
	distinct := map[v1.Hash]bool{}
	total := 0
	var bytesAll int64
	for _, im := range images {
		ref, _ := name.ParseReference(reg.Host + "/" + im.repo + ":" + im.tag)
		if err := remote.Write(ref, im.img, remote.WithAuth(&authn.Basic{Username: reg.User, Password: reg.Password}), remote.WithTransport(reg.Transport)); err != nil {
			return fmt.Errorf("pushing %s: %w", ref, err)
		}
		ls, _ := im.img.Layers()
		for _, l := range ls {
			d, _ := l.DiffID()
			total++
			if !distinct[d] {
				distinct[d] = true
				s, _ := l.Size()
				bytesAll += s
			}
		}
	}
	log.Printf("pushed %d images, %d layers, %d distinct (%.0f MiB of real files)", len(images), total, len(distinct), float64(realBytes)/(1<<20))
	cfg := filepath.Join(tmp, "docker")
	os.Mkdir(cfg, 0o700)
	auth := base64.StdEncoding.EncodeToString([]byte(reg.User + ":" + reg.Password))
	os.WriteFile(filepath.Join(cfg, "config.json"), []byte(fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, reg.Host, auth)), 0o600)
	env := append(os.Environ(), "DOCKER_CONFIG="+cfg, "XDG_CACHE_HOME="+filepath.Join(tmp, "xdg"), "PEEL_CACHE_KEY=peel-fleetbench-cache-key-0123456789")
	db := 0
	var rows []row
	summary := func(out []byte) (layers, cached int, err error) {
		var raw map[string]any
		if err := json.Unmarshal(out, &raw); err != nil {
			return 0, 0, fmt.Errorf("report: %v", err)
		}
		s := raw["summary"].(map[string]any)
		return int(s["layers"].(float64)), int(s["cached_layers"].(float64)), nil
	}
	for _, n := range []int{1, 2, 3} {
		db++
		url := rds.URL(db)
		var ws []*exec.Cmd
		var logs []*bytes.Buffer
		for i := 0; i < n; i++ {
			w := exec.Command(peel, "worker", "--queue", url, "--ca-file", reg.CAFile, "-c", "2")
			w.Env = env
			var b bytes.Buffer
			w.Stderr = &b
			if err := w.Start(); err != nil {
				return err
			}
			ws, logs = append(ws, w), append(logs, &b)
		}
		time.Sleep(time.Second) // the workers connect
		var pids []int
		for _, w := range ws {
			pids = append(pids, w.Process.Pid)
		}
		for _, round := range []string{"cold", "warm"} {
			cpu0 := cpuSeconds(pids...)
			start := time.Now()
			e := exec.Command(peel, "enqueue", "--queue", url, "--ca-file", reg.CAFile, "--all-tags", reg.Host, "--wait", "-f", "json", "-q")
			e.Env = env
			var stderr bytes.Buffer
			e.Stderr = &stderr
			out, err := e.Output()
			if ee := (*exec.ExitError)(nil); err != nil && (!errors.As(err, &ee) || ee.ExitCode() != 1) {
				return fmt.Errorf("enqueue: %v\n%s", err, stderr.String())
			}
			secs := time.Since(start).Seconds()
			cpu := cpuSeconds(pids...) - cpu0 + e.ProcessState.UserTime().Seconds() + e.ProcessState.SystemTime().Seconds()
			layers, cached, err := summary(out)
			if err != nil {
				return err
			}
			rows = append(rows, row{what: fmt.Sprintf("%d worker(s), %s", n, round), seconds: secs, cpu: cpu, images: len(images), layers: layers, read: len(distinct) - cached, cached: cached, distinct: len(distinct)})
			log.Printf("%d worker(s), %s: %.1fs", n, round, secs)
		}
		read := 0
		for i, w := range ws {
			w.Process.Signal(syscall.SIGTERM)
			w.Wait()
			if m := readRE.FindStringSubmatch(logs[i].String()); m != nil {
				k, _ := strconv.Atoi(m[1])
				read += k
			}
		}
		if read != len(distinct) {
			return fmt.Errorf("%d worker(s) read %d layers in all, want each of the %d distinct ones once", n, read, len(distinct))
		}
	}
	db++
	start := time.Now()
	s := exec.Command(peel, "scan", "--cache", rds.URL(db), "--ca-file", reg.CAFile, "--all-tags", reg.Host, "-f", "json", "-q")
	s.Env = env
	out, err := s.Output()
	if ee := (*exec.ExitError)(nil); err != nil && (!errors.As(err, &ee) || ee.ExitCode() != 1) {
		return fmt.Errorf("scan: %v", err)
	}
	layers, cached, err := summary(out)
	if err != nil {
		return err
	}
	rows = append(rows, row{what: "one `peel scan --all-tags` process, cold", seconds: time.Since(start).Seconds(),
		cpu:    s.ProcessState.UserTime().Seconds() + s.ProcessState.SystemTime().Seconds(),
		images: len(images), layers: layers, read: len(distinct) - cached, cached: cached, distinct: len(distinct)})

	var b strings.Builder
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(&b, "\n## Registry scan, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "`make fleetbench`: %d images in %d repositories on docker-registry (TLS, htpasswd), %d layers of which %d distinct (%.0f MiB compressed; bases of this machine's python3.11, perl and /usr/share/doc files, a real dist-packages package per repository), redis-server on 127.0.0.1; %d cores, load %s; workers `-c 2` each, on this one machine.\n\n",
		len(images), nrepos, total, len(distinct), float64(bytesAll)/(1<<20), runtime.NumCPU(), strings.Join(strings.Fields(string(load))[:3], " "))
	b.WriteString("| run | wall | CPU | images/hour | layers/hour (of images) | distinct layers read | distinct layers from the cache |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %.1f s | %.1f s | %.0f | %.0f | %d | %d of %d (%.0f %%) |\n", r.what, r.seconds, r.cpu, float64(r.images)/r.seconds*3600, float64(r.layers)/r.seconds*3600, r.read, r.cached, r.distinct, 100*float64(r.cached)/float64(r.distinct))
	}
	best := rows[0]
	for _, r := range rows {
		if strings.HasSuffix(r.what, "cold") && strings.Contains(r.what, "worker") && r.seconds < best.seconds {
			best = r
		}
	}
	rate := float64(best.images) / best.seconds * 3600
	cpuPer := best.cpu / float64(best.images)
	fmt.Fprintf(&b, "\nProjection to 110 000 images like these (%.2f distinct layers and %.2f MiB compressed per image on average, %.0f %% of layer uses shared between images), from the fastest cold run with workers (%s): 110 000 ÷ %.0f images/hour = %.1f hours on this one 2-core machine; by CPU, %.1f s ÷ %d images = %.3f CPU s per image, 110 000 × %.3f s = %.1f CPU hours, so %.1f hours on 4 such machines (8 cores) if the registry keeps up. A warm run (every layer in the cache) took %.0f %% of its cold run's wall time.\n",
		float64(len(distinct))/float64(len(images)), float64(bytesAll)/(1<<20)/float64(len(images)), 100*float64(total-len(distinct))/float64(total),
		best.what, rate, 110000/rate, best.cpu, best.images, cpuPer, cpuPer, 110000*cpuPer/3600, 110000*cpuPer/3600/8, 100*rows[5].seconds/rows[4].seconds)
	fmt.Print(b.String())
	if mdPath != "" {
		f, err := os.OpenFile(mdPath, os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.WriteString(b.String())
		return err
	}
	return nil
}
