package main

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/internal/regtest"
)

// peelEnv runs peel with extra environment and standard input. No
// credentials, daemon or cache of the machine's leak into the tests.
func peelEnv(t *testing.T, env []string, stdin string, args ...string) run {
	t.Helper()
	cmd := exec.Command(peelBin, args...)
	cmd.Env = append(append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "DOCKER_HOST=unix:///nonexistent/docker.sock", "XDG_CACHE_HOME="+t.TempDir(), "PEEL_FINGERPRINT_KEY="), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := run{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// archIndex is a linux/amd64 + linux/arm64 index whose images carry
// different secrets.
func archIndex(t *testing.T) v1.ImageIndex {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := fixture.Image{Layers: []fixture.Layer{{Tar: fixture.Tar(fixture.File{Name: "app/application.properties", Data: []byte("db.password=" + arch + "-only-pw\n")})}}}.Build()
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.Architecture = arch
		img, _ = mutate.ConfigFile(img, cf)
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	return mutate.AppendManifests(empty.Index, adds...)
}

// TestRealRegistry runs peel against the distribution registry (Debian's
// docker-registry) with TLS and htpasswd auth: the book's command through
// --registry-mirror, credentials from the Docker config, a credential
// helper and --password-stdin, a multi-arch index, and every failure.
func TestRealRegistry(t *testing.T) {
	reg := regtest.Start(t)
	if os.Getenv(regtest.EnvHost) != "" {
		t.Logf("registry: %s on https://%s, started by make e2e", regtest.Binary, reg.Host)
	} else {
		t.Logf("registry: %s on https://%s, started by this test", regtest.Binary, reg.Host)
	}
	for tag, build := range map[string]func() (v1.Image, error){"v1": fixture.STSv1, "v2": fixture.STSv2} {
		img, err := build()
		if err != nil {
			t.Fatal(err)
		}
		reg.Push(t, fixture.ImageRepo+":"+tag, img)
	}
	reg.PushIndex(t, "multi/app:1", archIndex(t))
	auth := []string{"DOCKER_CONFIG=" + reg.DockerConfig(t, reg.Host, reg.Password)}
	book := fixture.ImageRepo + ":v1"

	t.Run("book command through the mirror", func(t *testing.T) {
		r := peelEnv(t, auth, "", "scan", "--format", "json", "--registry-mirror", reg.Host, "--ca-file", reg.CAFile, book)
		if r.code != 1 {
			t.Fatalf("v1: exit %d\n%s", r.code, r.stderr)
		}
		img := decode(t, r).Images[0]
		var got []string
		for _, f := range img.Findings {
			got = append(got, f.Rule+" "+f.Location)
		}
		want := []string{
			"config-secret " + propsLoc + ":3", "config-secret " + propsLoc + ":6",
			"keystore-verified /opt/keystore.jks", "keystore-verified /opt/jwt.jks",
		}
		if strings.Join(got, "|") != strings.Join(want, "|") || img.Kind != "registry" {
			t.Errorf("v1 through the mirror: %q (kind %s)", got, img.Kind)
		}
		r = peelEnv(t, auth, "", "scan", "--registry-mirror", reg.Host, "--ca-file", reg.CAFile, fixture.ImageRepo+":v2")
		if r.code != 0 || !strings.Contains(r.stdout, "No secrets found.") {
			t.Errorf("v2 through the mirror: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("password-stdin", func(t *testing.T) {
		r := peelEnv(t, nil, reg.Password+"\n", "scan", "-u", reg.User, "--password-stdin", "--ca-file", reg.CAFile, reg.Host+"/"+book)
		if r.code != 1 {
			t.Errorf("exit %d %s", r.code, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, reg.Password) {
			t.Error("the password was printed")
		}
	})

	// --debug names the registry and every URL tried, with the token
	// flow's, and never the password, its base64 form or a token.
	t.Run("debug shows no credential", func(t *testing.T) {
		for _, tc := range []struct {
			env   []string
			stdin string
			args  []string
		}{
			{nil, reg.Password + "\n", []string{"-u", reg.User, "--password-stdin"}},
			{auth, "", nil},
		} {
			args := append(append([]string{"--debug", "scan", "--no-cache", "--ca-file", reg.CAFile}, tc.args...), reg.Host+"/"+book)
			r := peelEnv(t, tc.env, tc.stdin, args...)
			if r.code != 1 {
				t.Fatalf("exit %d %s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "peel: debug: request method=GET url=https://"+reg.Host+"/v2/") || !strings.Contains(r.stderr, "status=401") || !strings.Contains(r.stderr, "status=200") {
				t.Errorf("--debug does not show the requests:\n%s", r.stderr)
			}
			for _, secret := range []string{reg.Password, base64.StdEncoding.EncodeToString([]byte(reg.User + ":" + reg.Password)), "Bearer", "Authorization", "token="} {
				if strings.Contains(r.stderr, secret) {
					t.Errorf("--debug shows %.8q…:\n%s", secret, r.stderr)
				}
			}
		}
	})

	t.Run("credential helper", func(t *testing.T) {
		bin := t.TempDir()
		helper := "#!/bin/sh\nread server\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"" + reg.User + "\",\"Secret\":\"" + reg.Password + "\"}' \"$server\"\n"
		os.WriteFile(filepath.Join(bin, "docker-credential-peeltest"), []byte(helper), 0o755)
		cfg := t.TempDir()
		os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"credHelpers": {"`+reg.Host+`": "peeltest"}}`), 0o600)
		r := peelEnv(t, []string{"DOCKER_CONFIG=" + cfg, "PATH=" + bin + ":" + os.Getenv("PATH")}, "", "scan", "--ca-file", reg.CAFile, reg.Host+"/"+book)
		if r.code != 1 {
			t.Errorf("exit %d %s", r.code, r.stderr)
		}
	})

	t.Run("insecure registry", func(t *testing.T) {
		r := peelEnv(t, auth, "", "scan", "--insecure-registry", reg.Host, reg.Host+"/"+book)
		if r.code != 1 {
			t.Errorf("exit %d %s", r.code, r.stderr)
		}
	})

	t.Run("platforms", func(t *testing.T) {
		ref := reg.Host + "/multi/app:1"
		r := peelEnv(t, auth, "", "scan", "--show-secrets", "-f", "json", "--ca-file", reg.CAFile, "--platform", "linux/arm64", ref)
		rep := decode(t, r)
		if len(rep.Images) != 1 || len(rep.Images[0].Findings) != 1 || rep.Images[0].Findings[0].Secret != "arm64-only-pw" || rep.Images[0].Platform != "linux/arm64" {
			t.Errorf("--platform linux/arm64: %+v", rep.Images)
		}
		r = peelEnv(t, auth, "", "scan", "--show-secrets", "-f", "json", "--ca-file", reg.CAFile, "--all-platforms", ref)
		rep = decode(t, r)
		var got []string
		for _, img := range rep.Images {
			for _, f := range img.Findings {
				got = append(got, img.Input+" "+f.Secret)
			}
		}
		want := []string{ref + " (linux/amd64) amd64-only-pw", ref + " (linux/arm64) arm64-only-pw"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("--all-platforms: %q", got)
		}
	})

	blobs := regexp.MustCompile(`/blobs/sha256:`)
	proxied := func(t *testing.T, faults ...regtest.Fault) (string, []string) {
		p := regtest.NewProxy(t, reg, faults...)
		return p.Host + "/" + book, []string{"DOCKER_CONFIG=" + reg.DockerConfig(t, p.Host, reg.Password)}
	}
	t.Run("429 then success", func(t *testing.T) {
		ref, env := proxied(t, regtest.Fault{Path: regexp.MustCompile(`/manifests/`), Times: 2, Kind: regtest.TooManyRequests})
		if r := peelEnv(t, env, "", "scan", ref); r.code != 1 {
			t.Errorf("exit %d %s", r.code, r.stderr)
		}
	})
	t.Run("connection dropped once mid-blob", func(t *testing.T) {
		ref, env := proxied(t, regtest.Fault{Path: blobs, Times: 1, Kind: regtest.DropMidBody})
		if r := peelEnv(t, env, "", "scan", ref); r.code != 1 {
			t.Errorf("exit %d %s", r.code, r.stderr)
		}
	})
	img, _ := fixture.STSv1()
	ls, _ := img.Layers()
	keystoreLayer, _ := ls[3].Digest() // /opt/keystore.jks
	keystoreBlob := regexp.MustCompile(regexp.QuoteMeta("/blobs/" + keystoreLayer.String()))
	t.Run("connection dropped once mid-layer", func(t *testing.T) {
		ref, env := proxied(t, regtest.Fault{Path: keystoreBlob, Times: 1, Kind: regtest.DropMidBody})
		r := peelEnv(t, env, "", "scan", "-f", "json", ref)
		if r.code != 1 || len(decode(t, r).Images[0].Findings) != 4 {
			t.Errorf("exit %d %s", r.code, r.stderr)
		}
	})
}

func regtestFreeAddr(t *testing.T) string {
	l, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
