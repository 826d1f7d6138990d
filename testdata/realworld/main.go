// Command realworld builds peel's real-world corpus from real packages
// (make realworld), and measures peel beside trivy and gitleaks on it (make
// realworld-peers).
//
// It downloads the Debian packages of debian.txt with apt-get download into
// the cache directory and unpacks each with dpkg -x, installs the npm
// packages of npm/package-lock.json with npm ci --ignore-scripts, and lays
// the result out as an image: one layer per group of debian.txt and one for
// /app/node_modules, written as an OCI layout with go-containerregistry.
// The Debian python3-* packages stay where Debian installs them,
// /usr/lib/python3/dist-packages (Debian's site-packages; see README.md). It
// also builds the book's STS image pair (v1 and v2) from real content; see
// sts.go.
//
// The tests of this package (realworld_test.go) scan what it built with the
// peel binary and compare the findings with expectations.tsv.
//
// Usage:
//
//	go run ./testdata/realworld [-cache DIR] [-out DIR] build
//	go run ./testdata/realworld [-out DIR] peers [-trivy PATH] [-gitleaks PATH] [-peel PATH]
//	go run ./testdata/realworld counts [expectations.tsv]
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// generatorVersion changes whenever the layout of what build writes
// changes, so that an older build directory is rebuilt.
const generatorVersion = "realworld-2"

func main() {
	cache := flag.String("cache", filepath.Join("testdata", "build", "realworld-cache"), "download cache (Debian packages, npm cache)")
	out := flag.String("out", filepath.Join("testdata", "build", "realworld"), "build directory (package trees, images, reports)")
	src := flag.String("src", filepath.Join("testdata", "realworld"), "this directory: debian.txt, npm/, sts/")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: realworld [-cache DIR] [-out DIR] build | peers [flags] | counts [FILE]")
		flag.PrintDefaults()
	}
	flag.Parse()
	var err error
	switch flag.Arg(0) {
	case "build", "":
		err = build(*src, *cache, *out)
	case "peers":
		err = peers(*out, flag.Args()[1:])
	case "counts":
		file := filepath.Join(*src, "expectations.tsv")
		if flag.NArg() > 1 {
			file = flag.Arg(1)
		}
		err = printCounts(os.Stdout, file)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "realworld:", err)
		os.Exit(1)
	}
}

// Package is one line of debian.txt.
type Package struct {
	Group, Name, Version string
}

// readManifest reads debian.txt: GROUP PACKAGE VERSION per line, # comments.
func readManifest(path string) ([]Package, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var pkgs []Package
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Fields(line)
		if len(fs) != 3 {
			return nil, fmt.Errorf("%s:%d: want GROUP PACKAGE VERSION, got %q", path, n, line)
		}
		pkgs = append(pkgs, Package{fs[0], fs[1], fs[2]})
	}
	return pkgs, sc.Err()
}

// groups lists the groups of pkgs in their order of first appearance.
func groups(pkgs []Package) []string {
	var gs []string
	seen := map[string]bool{}
	for _, p := range pkgs {
		if !seen[p.Group] {
			seen[p.Group] = true
			gs = append(gs, p.Group)
		}
	}
	return gs
}

// Fallback records a package whose pinned version the mirror no longer
// serves, and the version used instead.
type Fallback struct {
	Name, Pinned, Used string
}

// fallbacksFile lists the fallbacks of the last build: NAME PINNED USED.
const fallbacksFile = "fallbacks.tsv"

// build fetches and unpacks everything, then writes the corpus image and
// the STS pair under out, skipping what an earlier build with the same
// inputs already wrote.
func build(src, cache, out string) error {
	start := time.Now()
	pkgs, err := readManifest(filepath.Join(src, "debian.txt"))
	if err != nil {
		return err
	}
	for _, d := range []string{cache, out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	debs, fallbacks, err := fetchDebs(filepath.Join(cache, "debs"), pkgs)
	if err != nil {
		return err
	}
	trees, err := unpackDebs(filepath.Join(out, "pkgs"), pkgs, debs)
	if err != nil {
		return err
	}
	if err := writeFallbacks(out, fallbacks, trees); err != nil {
		return err
	}
	nodeModules, err := npmInstall(filepath.Join(src, "npm"), filepath.Join(cache, "npm"), filepath.Join(out, "npm"))
	if err != nil {
		return err
	}
	if err := buildCorpusImage(src, out, pkgs, trees, nodeModules); err != nil {
		return err
	}
	if err := buildSTS(src, out, trees); err != nil {
		return err
	}
	for _, f := range fallbacks {
		fmt.Fprintf(os.Stderr, "WARNING: %s %s is no longer on the mirror; built with %s instead (update debian.txt and run make realworld UPDATE=1)\n", f.Name, f.Pinned, f.Used)
	}
	fmt.Fprintf(os.Stderr, "realworld: built in %.0f s\n", time.Since(start).Seconds())
	return nil
}

// aptName is how apt-get download names a version in a file name (an
// epoch's colon becomes %3a).
func aptName(version string) string { return strings.ReplaceAll(version, ":", "%3a") }

// findDeb returns the cached .deb of name at version, or "".
func findDeb(dir, name, version string) string {
	m, _ := filepath.Glob(filepath.Join(dir, name+"_"+aptName(version)+"_*.deb"))
	if len(m) == 0 {
		return ""
	}
	return m[0]
}

// fetchDebs makes sure every package's .deb is in dir: the pinned version,
// else the candidate (a Fallback). It returns the .deb of each package.
func fetchDebs(dir string, pkgs []Package) (map[string]string, []Fallback, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	var missing []string
	for _, p := range pkgs {
		if findDeb(dir, p.Name, p.Version) == "" {
			missing = append(missing, p.Name+"="+p.Version)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "realworld: downloading %d Debian packages\n", len(missing))
		// One call for all; apt-get refuses the whole batch when one
		// version is gone, so those are retried one by one below.
		if err := aptDownload(dir, missing...); err != nil {
			fmt.Fprintf(os.Stderr, "realworld: batch download failed (%v); trying one by one\n", err)
		}
	}
	debs := map[string]string{}
	var fallbacks []Fallback
	for _, p := range pkgs {
		deb := findDeb(dir, p.Name, p.Version)
		if deb == "" {
			if err := aptDownload(dir, p.Name+"="+p.Version); err == nil {
				deb = findDeb(dir, p.Name, p.Version)
			}
		}
		if deb == "" {
			used, err := candidate(p.Name)
			if err != nil {
				return nil, nil, fmt.Errorf("%s %s: not on the mirror, and no candidate: %w", p.Name, p.Version, err)
			}
			if deb = findDeb(dir, p.Name, used); deb == "" {
				if err := aptDownload(dir, p.Name+"="+used); err != nil {
					return nil, nil, fmt.Errorf("%s: pinned %s is gone and candidate %s did not download: %w", p.Name, p.Version, used, err)
				}
				deb = findDeb(dir, p.Name, used)
			}
			if deb == "" {
				return nil, nil, fmt.Errorf("%s %s: apt-get download wrote no .deb", p.Name, used)
			}
			fmt.Fprintf(os.Stderr, "WARNING: %s %s is no longer on the mirror; using %s\n", p.Name, p.Version, used)
			fallbacks = append(fallbacks, Fallback{p.Name, p.Version, used})
		}
		debs[p.Name] = deb
	}
	return debs, fallbacks, nil
}

func aptDownload(dir string, specs ...string) error {
	cmd := exec.Command("apt-get", append([]string{"download", "-q"}, specs...)...)
	cmd.Dir = dir
	cmd.Stdout = io.Discard
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("apt-get download: %v: %s", err, lastLines(stderr.String(), 3))
	}
	return nil
}

// candidate is the version apt-cache policy would install.
func candidate(name string) (string, error) {
	b, err := exec.Command("apt-cache", "policy", name).Output()
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "Candidate:"); ok {
			v = strings.TrimSpace(v)
			if v == "" || v == "(none)" {
				break
			}
			return v, nil
		}
	}
	return "", errors.New("apt-cache policy names no candidate (run apt-get update)")
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, " | ")
}

// unpackDebs unpacks each .deb with dpkg -x into root/NAME (once per .deb
// file) and returns each package's tree.
func unpackDebs(root string, pkgs []Package, debs map[string]string) (map[string]string, error) {
	trees := map[string]string{}
	for _, p := range pkgs {
		dir := filepath.Join(root, p.Name)
		stamp := dir + ".deb"
		want := filepath.Base(debs[p.Name])
		if b, err := os.ReadFile(stamp); err != nil || string(b) != want {
			if err := os.RemoveAll(dir); err != nil {
				return nil, err
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
			if out, err := exec.Command("dpkg", "-x", debs[p.Name], dir).CombinedOutput(); err != nil {
				return nil, fmt.Errorf("dpkg -x %s: %v: %s", debs[p.Name], err, lastLines(string(out), 3))
			}
			if err := os.WriteFile(stamp, []byte(want), 0o644); err != nil {
				return nil, err
			}
		}
		trees[p.Name] = dir
	}
	return trees, nil
}

// writeFallbacks records the fallbacks and, for each, the files of its
// package (as image paths), for the test's looser comparison.
func writeFallbacks(out string, fallbacks []Fallback, trees map[string]string) error {
	var b strings.Builder
	for _, f := range fallbacks {
		fmt.Fprintf(&b, "%s\t%s\t%s\n", f.Name, f.Pinned, f.Used)
		var files []string
		err := filepath.WalkDir(trees[f.Name], func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(trees[f.Name], p)
			files = append(files, "/"+filepath.ToSlash(rel))
			return nil
		})
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, "fallback-"+f.Name+".txt"), []byte(strings.Join(files, "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(out, fallbacksFile), []byte(b.String()), 0o644)
}

// npmInstall installs the locked npm tree with npm ci --ignore-scripts
// (nothing of the packages runs) into out/node_modules, once per lock file.
func npmInstall(src, cache, out string) (string, error) {
	lock, err := os.ReadFile(filepath.Join(src, "package-lock.json"))
	if err != nil {
		return "", err
	}
	manifest, err := os.ReadFile(filepath.Join(src, "package.json"))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(append(append([]byte(nil), manifest...), lock...))
	stamp := filepath.Join(out, ".stamp")
	if b, _ := os.ReadFile(stamp); string(b) == hex.EncodeToString(sum[:]) {
		return filepath.Join(out, "node_modules"), nil
	}
	if err := os.RemoveAll(out); err != nil {
		return "", err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	for n, data := range map[string][]byte{"package.json": manifest, "package-lock.json": lock} {
		if err := os.WriteFile(filepath.Join(out, n), data, 0o644); err != nil {
			return "", err
		}
	}
	abs, err := filepath.Abs(cache)
	if err != nil {
		return "", err
	}
	fmt.Fprintln(os.Stderr, "realworld: npm ci --ignore-scripts")
	cmd := exec.Command("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--cache", abs)
	cmd.Dir = out
	var combined strings.Builder
	cmd.Stdout, cmd.Stderr = &combined, &combined
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm ci: %v: %s", err, lastLines(combined.String(), 5))
	}
	if err := os.WriteFile(stamp, []byte(hex.EncodeToString(sum[:])), 0o644); err != nil {
		return "", err
	}
	return filepath.Join(out, "node_modules"), nil
}

// nodeApp is where the npm tree lands in the image, as in a Node.js
// application image.
const nodeApp = "/app/"

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
