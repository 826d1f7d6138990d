package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// peers lays the corpus image's files out as one root filesystem
// (out/rootfs, hard links into the unpacked packages) and scans it, in
// one run, with peel (dir:), trivy (fs, secret scanner) and gitleaks
// (dir), printing the findings per rule of each and writing the reports
// and a Markdown summary under out/peers.
func peers(out string, args []string) error {
	fl := flag.NewFlagSet("peers", flag.ExitOnError)
	peel := fl.String("peel", filepath.Join("bin", "peel"), "peel binary")
	trivy := fl.String("trivy", "trivy", "trivy v0.74 binary")
	gitleaks := fl.String("gitleaks", "gitleaks", "gitleaks v8.30 binary")
	src := fl.String("src", filepath.Join("testdata", "realworld"), "directory of debian.txt")
	fl.Parse(args)

	pkgs, err := readManifest(filepath.Join(*src, "debian.txt"))
	if err != nil {
		return err
	}
	rootfs := filepath.Join(out, "rootfs")
	if err := makeRootfs(rootfs, out, pkgs); err != nil {
		return err
	}
	dir := filepath.Join(out, "peers")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	type result struct {
		tool    string
		command string
		wall    time.Duration
		byRule  map[string]int
		where   []string
		version string
	}
	var results []result
	runTool := func(tool string, count func(string) (map[string]int, []string, error), report string, name string, argv ...string) error {
		start := time.Now()
		cmd := exec.Command(name, argv...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		wall := time.Since(start)
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			return fmt.Errorf("%s: %w", tool, err)
		}
		byRule, where, cerr := count(report)
		if cerr != nil {
			return fmt.Errorf("%s: %v (stderr: %s)", tool, cerr, lastLines(stderr.String(), 3))
		}
		v, _ := exec.Command(name, "version").CombinedOutput()
		results = append(results, result{tool, filepath.Base(name) + " " + strings.Join(argv, " "), wall, byRule, where, firstLine(string(v))})
		return nil
	}
	fmt.Fprintln(os.Stderr, "realworld peers: peel")
	peelOut := filepath.Join(dir, "peel.json")
	if err := runTool("peel", countPeel, peelOut, *peel, "scan", "-q", "--no-cache", "--fail-on", "none", "-f", "json", "-o", peelOut, "dir:"+rootfs); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "realworld peers: trivy")
	trivyOut := filepath.Join(dir, "trivy.json")
	if err := runTool("trivy", countTrivy, trivyOut, *trivy, "fs", "--scanners", "secret", "--offline-scan", "--skip-db-update", "--skip-java-db-update",
		"--cache-backend", "memory", "--format", "json", "--output", trivyOut, "--quiet", rootfs); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "realworld peers: gitleaks")
	glOut := filepath.Join(dir, "gitleaks.json")
	if err := runTool("gitleaks", countGitleaks, glOut, *gitleaks, "dir", "--no-banner", "--report-format", "json", "--report-path", glOut,
		"--exit-code", "0", "--log-level", "error", rootfs); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rootfs: %s (%d Debian packages of debian.txt and the npm tree)\n\n", rootfs, len(pkgs))
	fmt.Fprintln(&b, "| tool | findings | wall | command |")
	fmt.Fprintln(&b, "| --- | ---: | ---: | --- |")
	for _, r := range results {
		n := 0
		for _, c := range r.byRule {
			n += c
		}
		fmt.Fprintf(&b, "| %s (%s) | %d | %.0f s | `%s` |\n", r.tool, r.version, n, r.wall.Seconds(), strings.ReplaceAll(r.command, rootfs, "ROOTFS"))
	}
	for _, r := range results {
		fmt.Fprintf(&b, "\n%s, per rule:\n\n", r.tool)
		for _, k := range byCount(r.byRule) {
			fmt.Fprintf(&b, "- %d `%s`\n", r.byRule[k], k)
		}
		if r.tool != "peel" {
			fmt.Fprintf(&b, "\n%s, where:\n\n", r.tool)
			for _, w := range r.where {
				fmt.Fprintf(&b, "- %s\n", strings.TrimPrefix(w, rootfs))
			}
		}
	}
	fmt.Print(b.String())
	return os.WriteFile(filepath.Join(dir, "summary.md"), []byte(b.String()), 0o644)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(l)
}

func byCount(m map[string]int) []string {
	ks := sortedKeys(m)
	sort.SliceStable(ks, func(i, j int) bool { return m[ks[i]] > m[ks[j]] })
	return ks
}

func countPeel(path string) (map[string]int, []string, error) {
	fs, err := readReport(path)
	if err != nil {
		return nil, nil, err
	}
	m := map[string]int{}
	for _, f := range fs {
		m[f.Rule]++
	}
	return m, nil, nil
}

func countTrivy(path string) (map[string]int, []string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var r struct {
		Results []struct {
			Target  string
			Secrets []struct {
				RuleID    string
				StartLine int
			}
		}
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, nil, err
	}
	m := map[string]int{}
	var where []string
	for _, res := range r.Results {
		for _, s := range res.Secrets {
			m[s.RuleID]++
			where = append(where, fmt.Sprintf("`%s` %s:%d", s.RuleID, res.Target, s.StartLine))
		}
	}
	return m, where, nil
}

func countGitleaks(path string) (map[string]int, []string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var fs []struct {
		RuleID    string
		File      string
		StartLine int
	}
	if err := json.Unmarshal(b, &fs); err != nil {
		return nil, nil, err
	}
	m := map[string]int{}
	var where []string
	for _, f := range fs {
		m[f.RuleID]++
		where = append(where, fmt.Sprintf("`%s` %s:%d", f.RuleID, f.File, f.StartLine))
	}
	return m, where, nil
}

// makeRootfs links every package's files (where the image has them) and
// the npm tree into one directory, once per corpus build.
func makeRootfs(rootfs, out string, pkgs []Package) error {
	stamp, err := os.ReadFile(filepath.Join(out, "corpus-oci.stamp"))
	if err != nil {
		return fmt.Errorf("the corpus is not built (make realworld): %w", err)
	}
	if b, _ := os.ReadFile(rootfs + ".stamp"); string(b) == string(stamp) {
		return nil
	}
	if err := os.RemoveAll(rootfs); err != nil {
		return err
	}
	link := func(root string, to func(string) string) error {
		return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if rel == ".stamp" {
				return nil
			}
			ip := to("/" + filepath.ToSlash(rel))
			dst := filepath.Join(rootfs, filepath.FromSlash(ip))
			switch {
			case d.IsDir():
				return os.MkdirAll(dst, 0o755)
			case d.Type()&fs.ModeSymlink != 0:
				t, err := os.Readlink(p)
				if err != nil {
					return err
				}
				os.Remove(dst)
				return os.Symlink(t, dst)
			case d.Type().IsRegular():
				os.Remove(dst)
				if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
					return err
				}
				return os.Link(p, dst)
			}
			return nil
		})
	}
	for _, p := range pkgs {
		if err := link(filepath.Join(out, "pkgs", p.Name), func(p string) string { return p }); err != nil {
			return err
		}
	}
	if err := link(filepath.Join(out, "npm"), func(p string) string { return strings.TrimSuffix(nodeApp, "/") + p }); err != nil {
		return err
	}
	return os.WriteFile(rootfs+".stamp", stamp, 0o644)
}
