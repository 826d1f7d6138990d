package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peelscan/peel/internal/dockertest"
	"github.com/peelscan/peel/internal/fixture"
)

// TestRealDaemon runs peel against a real Docker daemon (Debian's
// docker.io dockerd): the book's v1 image loaded with docker load gives the
// same findings and layers as its docker save archive; a second scan is
// served from the cache without the daemon saving the image; a missing
// image is one line and exit 2. With the daemon make e2e starts, a large
// image is scanned too, its peak RSS measured.
func TestRealDaemon(t *testing.T) {
	host, shared := dockertest.Host(t)
	ctx := context.Background()
	if err := dockertest.Load(ctx, host, fx("sts-v1.tar")); err != nil {
		t.Fatal(err)
	}
	book := fixture.ImageRepo + ":v1"
	t.Cleanup(func() { dockertest.Remove(ctx, host, book) })
	env := []string{"DOCKER_HOST=" + host}
	cache := t.TempDir()
	cold := peelEnv(t, env, "", "scan", "-f", "json", "--cache-dir", cache, "docker-daemon:"+book)
	warm := peelEnv(t, env, "", "scan", "-f", "json", "--cache-dir", cache, "docker-daemon:"+book)
	archive := peel(t, "scan", "-f", "json", fx("sts-v1.tar"))
	if cold.code != 1 || warm.code != 1 || archive.code != 1 {
		t.Fatalf("exit %d/%d/%d\n%s%s", cold.code, warm.code, archive.code, cold.stderr, warm.stderr)
	}
	c, w, a := decode(t, cold).Images[0], decode(t, warm).Images[0], decode(t, archive).Images[0]
	if c.Kind != "docker-daemon" || c.ImageID != a.ImageID {
		t.Errorf("kind %q image id %q, want docker-daemon and %q", c.Kind, c.ImageID, a.ImageID)
	}
	if !reflect.DeepEqual(c.Findings, a.Findings) || !reflect.DeepEqual(c.Layers, a.Layers) {
		t.Errorf("daemon and archive differ:\n%+v\n%+v", c.Findings, a.Findings)
	}
	if !reflect.DeepEqual(w.Findings, c.Findings) || w.Stats.CachedLayers != 5 || c.Stats.CachedLayers != 0 {
		t.Errorf("warm: cached %d (cold %d), findings equal %v", w.Stats.CachedLayers, c.Stats.CachedLayers, reflect.DeepEqual(w.Findings, c.Findings))
	}
	r := peelEnv(t, env, "", "scan", "docker-daemon:peel/no-such-image:1")
	if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "cannot read the image from the Docker daemon") {
		t.Errorf("missing image: exit %d, stderr %q", r.code, r.stderr)
	}

	// A layer held twice: docker save writes the second as a link.
	t.Run("repeated layer", func(t *testing.T) {
		secret := fixture.Tar(fixture.File{Name: "app/application.properties", Data: []byte("db.password=repeated-layer-pw\n")})
		other := fixture.Tar(fixture.File{Name: "b.txt", Data: []byte("b\n")})
		img, err := fixture.Image{Layers: []fixture.Layer{{Tar: secret}, {Tar: other}, {Tar: secret}}}.Build()
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		in, saved := filepath.Join(dir, "in.tar"), filepath.Join(dir, "saved.tar")
		const tag = "peel/repeated:1"
		if err := fixture.WriteDockerSave(in, img, tag); err != nil {
			t.Fatal(err)
		}
		if err := dockertest.Load(ctx, host, in); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dockertest.Remove(ctx, host, tag) })
		if err := dockertest.Save(ctx, host, tag, saved); err != nil {
			t.Fatal(err)
		}
		for _, input := range []string{"docker-daemon:" + tag, saved} {
			r := peelEnv(t, env, "", "scan", "-f", "json", "--no-cache", input)
			if r.code != 1 {
				t.Fatalf("%s: exit %d: %s", input, r.code, r.stderr)
			}
			var layersWithSecret []int
			for _, f := range decode(t, r).Images[0].Findings {
				layersWithSecret = append(layersWithSecret, f.Layer)
			}
			if !reflect.DeepEqual(layersWithSecret, []int{1, 3}) {
				t.Errorf("%s: the secret is reported in layers %v, want [1 3]", input, layersWithSecret)
			}
		}
	})

	t.Run("large image", func(t *testing.T) {
		if !shared {
			t.Skip("the large image runs against the daemon make e2e starts")
		}
		const tag, secret = "peel/large:1", "large-image-daemon-pw"
		p := filepath.Join(t.TempDir(), "large.tar")
		start := time.Now()
		if err := fixture.WriteLargeDockerSave(p, tag, 3, 256<<20, secret); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(p)
		gen := time.Since(start)
		start = time.Now()
		if err := dockertest.Load(ctx, host, p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dockertest.Remove(ctx, host, tag) })
		os.Remove(p)
		load := time.Since(start)
		start = time.Now()
		cmd := exec.Command(peelBin, "scan", "-f", "json", "--show-secrets", "--no-cache", "docker-daemon:"+tag)
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+host)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		peak := watchPeak(cmd.Process.Pid)
		err := cmd.Wait()
		rss := <-peak
		t.Logf("image of %d MiB: generated in %v, loaded in %v, scanned in %v, peak RSS %d MiB", st.Size()>>20, gen.Round(time.Millisecond), load.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), rss>>20)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("exit: %v\n%s", err, errb.String())
		}
		if !strings.Contains(out.String(), secret) {
			t.Error("the planted secret was not found")
		}
		if rss == 0 || rss > 256<<20 {
			t.Errorf("peak RSS %d MiB, want at most 256 MiB", rss>>20)
		}
	})
}

// watchPeak polls a process's VmHWM (its peak resident set since exec; the
// rusage of a child started with os/exec would include the test process's
// own peak) until it exits, and sends the largest value seen.
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
			time.Sleep(20 * time.Millisecond)
		}
		ch <- peak
	}()
	return ch
}
