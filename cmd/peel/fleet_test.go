package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/internal/redistest"
	"github.com/peelscan/peel/internal/regtest"
	"github.com/peelscan/peel/report"
)

// fleetRepos are the fleet's repositories, in catalog (lexical) order.
// testCacheKey seals the shared Redis cache of the fleet tests (synthetic).
const testCacheKey = "peel-fleet-test-cache-key-0123456789"

func fleetRepos(images []fixture.FleetImage) []string {
	seen := map[string]bool{}
	var out []string
	for _, im := range images {
		if !seen[im.Repo] {
			seen[im.Repo] = true
			out = append(out, im.Repo)
		}
	}
	sort.Strings(out)
	return out
}

// plantedWant is, per image reference, the planted secrets as
// "rule location secret" lines, sorted.
func plantedWant(host string, images []fixture.FleetImage) map[string][]string {
	want := map[string][]string{}
	for _, im := range images {
		ref := host + "/" + im.Repo + ":" + im.Tag
		var lines []string
		for _, p := range im.Planted {
			lines = append(lines, p.Rule+" "+p.Location+" "+p.Secret)
		}
		sort.Strings(lines)
		want[ref] = lines
	}
	return want
}

// reported is the same of a report (private keys with no secret to
// compare).
func reported(rep *report.Report) map[string][]string {
	got := map[string][]string{}
	for _, img := range rep.Images {
		lines := []string{}
		for _, f := range img.Findings {
			secret := f.Secret
			if f.Rule == "private-key" {
				secret = ""
			}
			lines = append(lines, f.Rule+" "+f.Location+" "+secret)
		}
		sort.Strings(lines)
		got[img.Input] = lines
	}
	return got
}

func checkPlanted(t *testing.T, what string, rep *report.Report, want map[string][]string) {
	t.Helper()
	got := reported(rep)
	if len(rep.Images) != len(want) {
		t.Errorf("%s: %d images reported, want %d", what, len(rep.Images), len(want))
	}
	for ref, w := range want {
		g, ok := got[ref]
		if !ok {
			t.Errorf("%s: %s not reported", what, ref)
			continue
		}
		if strings.Join(g, "\n") != strings.Join(w, "\n") {
			t.Errorf("%s: %s:\n got %q\nwant %q", what, ref, g, w)
		}
	}
}

// sameReport compares two reports as a reader would: every image's
// identity, layers, findings (fingerprints and all), what was not fully
// scanned and errors, in order, and the totals; not the time taken, nor
// which image's stats count a layer shared between images.
func sameReport(t *testing.T, what string, a, b *report.Report, host func(string) string) {
	t.Helper()
	norm := func(r *report.Report) string {
		type img struct {
			Input, Kind, ImageID, Digest, Ref, Platform, Error string
			Layers                                             []report.Layer
			Findings                                           []report.Finding
			Incomplete                                         []report.Incomplete
		}
		var out []img
		for _, im := range r.Images {
			out = append(out, img{host(im.Input), im.Kind, im.ImageID, im.Digest, host(im.Ref), im.Platform, im.Error, im.Layers, im.Findings, im.Incomplete})
		}
		s := r.Summary
		s.Seconds = 0
		b, _ := json.MarshalIndent(struct {
			Images  []img
			Rules   []report.Rule
			Summary report.Summary
		}{out, r.Rules, s}, "", " ")
		return string(b)
	}
	if x, y := norm(a), norm(b); x != y {
		t.Errorf("%s: the reports differ:\n%s", what, firstDiff(x, y))
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			lo := max(0, i-3)
			return fmt.Sprintf("line %d:\n-%s\n+%s", i+1, strings.Join(al[lo:i+1], "\n-"), strings.Join(bl[lo:min(len(bl), i+1)], "\n+"))
		}
	}
	return fmt.Sprintf("%d lines against %d", len(al), len(bl))
}

func sameHost(s string) string { return s }

// worker is a peel worker process of a test.
type worker struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []string
	done   chan struct{}
	events chan string
}

func startWorker(t *testing.T, env []string, args ...string) *worker {
	t.Helper()
	cmd := exec.Command(peelBin, append([]string{"worker", "--debug"}, args...)...)
	cmd.Env = append(append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir(), "PEEL_FINGERPRINT_KEY=", "PEEL_CACHE_KEY="+testCacheKey), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &worker{cmd: cmd, done: make(chan struct{}), events: make(chan string, 1000)}
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			w.mu.Lock()
			w.lines = append(w.lines, sc.Text())
			w.mu.Unlock()
			select {
			case w.events <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-w.done
		cmd.Wait()
	})
	return w
}

// stop ends the worker with SIGTERM and returns its log.
func (w *worker) stop(t *testing.T) string {
	t.Helper()
	w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(60 * time.Second):
		t.Fatal("a worker did not stop within 60s of SIGTERM")
	}
	w.cmd.Wait()
	return w.log()
}

func (w *worker) log() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "\n")
}

var layersReadRE = regexp.MustCompile(`stopped: .* (\d+) layer\(s\) read, (\d+) from the cache`)

// layersRead is what a stopped worker's final summary says it read.
func layersRead(t *testing.T, log string) int {
	t.Helper()
	m := layersReadRE.FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no final summary in the worker's log:\n%s", log)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestRealFleet fills a registry of its own (Debian's docker-registry,
// TLS and htpasswd) with the fleet, 30 images in 6 repositories sharing
// layers, and scans it whole: every tag and the catalog in one process,
// and through 2 and 3 peel workers on a queue and layer cache in Redis
// (Debian's redis-server), one of them killed mid-run.
func TestRealFleet(t *testing.T) {
	reg := regtest.StartPrivate(t)
	rds := redistest.Start(t)
	images, err := fixture.Fleet()
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range images {
		reg.Push(t, im.Repo+":"+im.Tag, im.Image)
	}
	distinct, err := fixture.FleetDistinctLayers(images)
	if err != nil {
		t.Fatal(err)
	}
	totalLayers := 0
	for _, im := range images {
		ls, _ := im.Image.Layers()
		totalLayers += len(ls)
	}
	t.Logf("registry %s: %d images, %d layers, %d distinct; redis %s", reg.Host, len(images), totalLayers, distinct, rds.Addr)
	auth := []string{"DOCKER_CONFIG=" + reg.DockerConfig(t, reg.Host, reg.Password), "PEEL_CACHE_KEY=" + testCacheKey}
	want := plantedWant(reg.Host, images)
	var repos []string
	for _, r := range fleetRepos(images) {
		repos = append(repos, reg.Host+"/"+r)
	}
	scan := func(t *testing.T, args ...string) (*report.Report, run) {
		t.Helper()
		r := peelEnv(t, auth, "", append([]string{"scan", "-f", "json", "--show-secrets", "--ca-file", reg.CAFile}, args...)...)
		if r.code != 1 {
			t.Fatalf("peel scan %v: exit %d, want 1\n%s", args, r.code, r.stderr)
		}
		return decode(t, r), r
	}

	var single *report.Report
	t.Run("all tags", func(t *testing.T) {
		rep, _ := scan(t, append([]string{"--no-cache", "--all-tags"}, repos...)...)
		checkPlanted(t, "--all-tags", rep, want)
		s := rep.Summary
		if s.DistinctLayers != distinct || s.Layers != totalLayers || s.SharedLayers != totalLayers-distinct || s.CachedLayers != 0 {
			t.Errorf("summary: %d layers, %d distinct, %d shared, %d cached; want %d, %d, %d, 0", s.Layers, s.DistinctLayers, s.SharedLayers, s.CachedLayers, totalLayers, distinct, totalLayers-distinct)
		}
		single = rep
	})
	if single == nil {
		t.FailNow()
	}
	t.Run("catalog", func(t *testing.T) {
		rep, r := scan(t, "--no-cache", "--all-tags", reg.Host)
		checkPlanted(t, "catalog", rep, want)
		sameReport(t, "catalog against --all-tags of each repository", single, rep, sameHost)
		if !strings.Contains(r.stderr, fmt.Sprintf("%d distinct layer(s) of %d: %d read, %d shared between images, 0 from the layer cache", distinct, totalLayers, distinct, totalLayers-distinct)) {
			t.Errorf("summary line: %s", r.stderr)
		}
	})

	t.Run("tag filter and limit", func(t *testing.T) {
		rep, _ := scan(t, "--no-cache", "--all-tags", "--tags", "1.*", "--max-tags", "2", reg.Host)
		var got []string
		for _, img := range rep.Images {
			got = append(got, strings.TrimPrefix(img.Input, reg.Host+"/"))
		}
		var wantRefs []string
		for _, r := range fleetRepos(images) {
			wantRefs = append(wantRefs, r+":1.0", r+":1.1")
		}
		if strings.Join(got, " ") != strings.Join(wantRefs, " ") {
			t.Errorf("--tags '1.*' --max-tags 2: %q, want %q", got, wantRefs)
		}
	})

	t.Run("a missing image among many", func(t *testing.T) {
		list := filepath.Join(t.TempDir(), "images.txt")
		refs := []string{reg.Host + "/shop/api:1.0", reg.Host + "/shop/api:no-such-tag", reg.Host + "/shop/web:1.1"}
		os.WriteFile(list, []byte("# images\n"+strings.Join(refs, "\n")+"\n\n"), 0o644)
		r := peelEnv(t, auth, "", "scan", "-f", "json", "--show-secrets", "--ca-file", reg.CAFile, "--no-cache", "--from-file", list)
		if r.code != 2 || !strings.Contains(r.stderr, "1 image(s) could not be scanned") {
			t.Fatalf("exit %d, want 2\n%s", r.code, r.stderr)
		}
		rep := decode(t, r)
		if len(rep.Images) != 3 || rep.Summary.Errors != 1 {
			t.Fatalf("%d images, %d errors", len(rep.Images), rep.Summary.Errors)
		}
		bad := rep.Images[1]
		if bad.Input != refs[1] || !strings.Contains(bad.Error, "not found") || len(bad.Findings) != 0 {
			t.Errorf("error entry: %+v", bad)
		}
		got := reported(rep)
		for _, ref := range []string{refs[0], refs[2]} {
			if strings.Join(got[ref], "|") != strings.Join(want[ref], "|") {
				t.Errorf("%s: %q, want %q", ref, got[ref], want[ref])
			}
		}
		// The same list from standard input, as a table.
		r = peelEnv(t, auth, strings.Join(refs, "\n"), "scan", "--ca-file", reg.CAFile, "--no-cache", "--from-file", "-")
		if r.code != 2 || !strings.Contains(r.stdout, refs[1]+": error: not found") {
			t.Errorf("--from-file -: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("a registry that does not list its catalog", func(t *testing.T) {
		p := regtest.NewProxy(t, reg, regtest.Fault{Path: regexp.MustCompile(`^/v2/_catalog`), Kind: regtest.Status, Status: 404})
		env := []string{"DOCKER_CONFIG=" + reg.DockerConfig(t, p.Host, reg.Password)}
		r := peelEnv(t, env, "", "scan", "--all-tags", p.Host)
		if r.code != 2 || !strings.Contains(r.stderr, p.Host+" does not list its repositories (/v2/_catalog answered 404 Not Found)") || r.stdout != "" {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		// Its repositories can still be named.
		r = peelEnv(t, env, "", "scan", "-f", "json", "--no-cache", "--all-tags", p.Host+"/shop/api")
		if r.code != 1 || len(decode(t, r).Images) != len(fixture.FleetTags) {
			t.Errorf("--all-tags HOST/REPO through the proxy: exit %d\n%s", r.code, r.stderr)
		}
	})

	t.Run("shared cache in Redis", func(t *testing.T) {
		url := rds.DB(t)
		// A shared cache needs the key every peel sharing it is given.
		noKey := append(append([]string(nil), auth...), "PEEL_CACHE_KEY=")
		if r := peelEnv(t, noKey, "", "scan", "-q", "--ca-file", reg.CAFile, "--cache", url, reg.Host+"/"+fleetRepos(images)[0]+":"+fixture.FleetTags[0]); r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "PEEL_CACHE_KEY is not set") {
			t.Errorf("--cache without PEEL_CACHE_KEY: exit %d, stderr %q; want exit 2 and one line naming PEEL_CACHE_KEY", r.code, r.stderr)
		}
		first, _ := scan(t, "--cache", url, "--all-tags", reg.Host)
		sameReport(t, "with the Redis cache", single, first, sameHost)
		redisHoldsNoSecret(t, rds, url, first)
		second, r := scan(t, "--cache", url, "--all-tags", reg.Host)
		checkPlanted(t, "second run", second, want)
		if s := second.Summary; s.CachedLayers != distinct || s.DistinctLayers != distinct || s.Bytes != 0 {
			t.Errorf("second run: %d layers from the cache, %d distinct, %d bytes read; want %d, %d, 0", s.CachedLayers, s.DistinctLayers, s.Bytes, distinct, distinct)
		}
		if !strings.Contains(r.stderr, fmt.Sprintf("%d distinct layer(s) of %d: 0 read", distinct, totalLayers)) {
			t.Errorf("summary line: %s", r.stderr)
		}
	})

	queueRun := func(t *testing.T, url string, workers int, env []string, target string, kill bool) (*report.Report, []int) {
		t.Helper()
		args := []string{"--queue", url, "--ca-file", reg.CAFile, "-c", "2"}
		var ws []*worker
		for i := 0; i < workers; i++ {
			ws = append(ws, startWorker(t, env, args...))
		}
		enq := exec.Command(peelBin, "enqueue", "--queue", url, "--ca-file", reg.CAFile, "--all-tags", target, "--wait", "-f", "json", "--show-secrets")
		enq.Env = append(append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir(), "PEEL_FINGERPRINT_KEY=", "PEEL_CACHE_KEY="+testCacheKey), env...)
		var out, errb bytes.Buffer
		enq.Stdout, enq.Stderr = &out, &errb
		if err := enq.Start(); err != nil {
			t.Fatal(err)
		}
		killed := -1
		if kill {
			// SIGKILL the first worker seen reading a layer, mid-task.
			deadline := time.After(2 * time.Minute)
		wait:
			for {
				for i, w := range ws {
					select {
					case line := <-w.events:
						if strings.Contains(line, ": reading") {
							w.cmd.Process.Kill()
							killed = i
							t.Logf("killed worker %d mid-task: %s", i, line)
							break wait
						}
					default:
					}
				}
				select {
				case <-deadline:
					t.Fatal("no worker started reading a layer")
				case <-time.After(10 * time.Millisecond):
				}
			}
		}
		err := enq.Wait()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != 1 {
			t.Fatalf("peel enqueue --wait: exit %d, want 1\n%s", code, errb.String())
		}
		var rep report.Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("decoding the report: %v\n%s", err, out.String())
		}
		var reads []int
		for i, w := range ws {
			if i == killed {
				continue
			}
			log := w.stop(t)
			reads = append(reads, layersRead(t, log))
		}
		return &rep, reads
	}
	sum := func(ns []int) int {
		n := 0
		for _, x := range ns {
			n += x
		}
		return n
	}

	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d workers", n), func(t *testing.T) {
			url := rds.DB(t)
			rep, reads := queueRun(t, url, n, auth, reg.Host, false)
			checkPlanted(t, "workers", rep, want)
			redisHoldsNoSecret(t, rds, url, single)
			sameReport(t, "workers against one process", single, rep, sameHost)
			if sum(reads) != distinct {
				t.Errorf("the workers read %v layers, %d in all; want each of the %d distinct layers read once", reads, sum(reads), distinct)
			}
			// A second run over the same registry: every layer from the cache.
			rep2, reads2 := queueRun(t, url, n, auth, reg.Host, false)
			checkPlanted(t, "second run", rep2, want)
			if sum(reads2) != 0 || rep2.Summary.CachedLayers != distinct || rep2.Summary.DistinctLayers != distinct {
				t.Errorf("second run: the workers read %v layers, the report says %d from the cache of %d distinct; want none read, all %d cached", reads2, rep2.Summary.CachedLayers, rep2.Summary.DistinctLayers, distinct)
			}
			noCredentials(t, rds, url, reg.Password)
		})
	}

	t.Run("a worker killed mid-run", func(t *testing.T) {
		url := rds.DB(t)
		// Every blob takes a second through the proxy, so that the worker
		// is killed in the middle of a read.
		p := regtest.NewProxy(t, reg, regtest.Fault{Path: regexp.MustCompile(`/blobs/sha256:`), Kind: regtest.Delay, Delay: time.Second})
		env := []string{"DOCKER_CONFIG=" + reg.DockerConfig(t, p.Host, reg.Password)}
		rep, _ := queueRun(t, url, 2, env, p.Host, true)
		viaProxy := func(s string) string { return strings.Replace(s, p.Host, reg.Host, 1) }
		sameReport(t, "a worker killed", single, rep, viaProxy)
	})
}

// noCredentials checks that the registry password is nowhere in the
// queue's Redis database: not in tasks, results or cache entries.
func noCredentials(t *testing.T, rds *redistest.Server, url, password string) {
	t.Helper()
	db, _ := strconv.Atoi(url[strings.LastIndex(url, "/")+1:])
	c := rds.Client(db)
	defer c.Close()
	ctx := context.Background()
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("listing keys: %v (%d keys)", err, len(keys))
	}
	for _, k := range keys {
		var vals []string
		switch c.Type(ctx, k).Val() {
		case "string":
			vals = []string{c.Get(ctx, k).Val()}
		case "hash":
			for f, v := range c.HGetAll(ctx, k).Val() {
				vals = append(vals, f, v)
			}
		case "list":
			vals = c.LRange(ctx, k, 0, -1).Val()
		case "set":
			vals = c.SMembers(ctx, k).Val()
		case "zset":
			vals = c.ZRange(ctx, k, 0, -1).Val()
		}
		for _, v := range append(vals, k) {
			if strings.Contains(v, password) {
				t.Errorf("the registry password is in redis key %s", k)
			}
		}
	}
}

// redisHoldsNoSecret: the Redis cache's names and values hold no secret
// of the report and no layer digest in plain text (entries are sealed).
func redisHoldsNoSecret(t *testing.T, rds *redistest.Server, url string, rep *report.Report) {
	t.Helper()
	db, err := strconv.Atoi(url[strings.LastIndex(url, "/")+1:])
	if err != nil {
		t.Fatal(err)
	}
	c := rds.Client(db)
	defer c.Close()
	ctx := context.Background()
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("redis keys: %d, %v", len(keys), err)
	}
	var needles []string
	for _, img := range rep.Images {
		for _, f := range img.Findings {
			if len(f.Secret) >= 6 {
				needles = append(needles, f.Secret)
			}
		}
		for _, l := range img.Layers {
			needles = append(needles, strings.TrimPrefix(l.DiffID, "sha256:"))
		}
	}
	if len(needles) == 0 {
		t.Fatal("no secrets or layers in the report to look for")
	}
	for _, k := range keys {
		v, err := c.Get(ctx, k).Bytes()
		if err != nil {
			continue // not a string: the queue's own structures
		}
		for _, n := range needles {
			if strings.Contains(k, n) || bytes.Contains(v, []byte(n)) {
				t.Errorf("redis entry %.40s… holds %.6s… in plain text", k, n)
			}
		}
	}
}
