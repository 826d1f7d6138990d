// Command gitleaks-samples writes the true and false positives with which
// gitleaks' rule generators check its default rules, for peel's
// differential tests (rules/samples_test.go).
//
// Each generator in gitleaks' cmd/generate/config/rules builds its rule,
// makes samples (utils.GenerateSampleSecret and secrets.NewSecret, from the
// rule's own regexp) and hands them to utils.Validate or
// utils.ValidateWithPaths. This command copies the gitleaks module of
// peel's go.mod out of the module cache into a temporary module, puts a
// recorder in front of those two functions (which still validate as
// before), runs the generator program there and writes what was recorded:
// one JSON object per line, the first naming the gitleaks version, then
// {"rule", "positive", "text", "path"} per sample. It also checks that the
// generator rebuilt gitleaks' shipped config/gitleaks.toml byte for byte,
// so the samples belong to the rules peel runs.
//
// The samples are provider-shaped random tokens, made anew on every run:
// they are written under testdata/build, never committed.
//
// Usage: go run ./testdata/gitleaks-samples -out testdata/build/gitleaks-samples.jsonl
//
// With GOPROXY=off (as the tests run it) nothing is downloaded: the build
// fails unless the module cache holds the generator's dependencies.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const gitleaksModule = "github.com/zricethezav/gitleaks/v8"

func main() {
	out := flag.String("out", filepath.Join("testdata", "build", "gitleaks-samples.jsonl"), "file to write the samples to")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintf(os.Stderr, "gitleaks-samples: %v\n", err)
		os.Exit(1)
	}
}

// recorder replaces utils.Validate and utils.ValidateWithPaths in the
// copied module; the originals are renamed and still run.
const recorder = `package utils

// Written by peel's testdata/gitleaks-samples: records every sample a rule
// generator validates, then validates it as gitleaks does.

import (
	"encoding/json"
	"os"
	"sort"

	"github.com/zricethezav/gitleaks/v8/config"
)

type peelSample struct {
	Rule     string ` + "`json:\"rule\"`" + `
	Positive bool   ` + "`json:\"positive\"`" + `
	Text     string ` + "`json:\"text\"`" + `
	Path     string ` + "`json:\"path,omitempty\"`" + `
}

func peelRecord(samples []peelSample) {
	f, err := os.OpenFile(os.Getenv("PEEL_SAMPLES_OUT"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		panic(err)
	}
	enc := json.NewEncoder(f)
	for _, s := range samples {
		if err := enc.Encode(s); err != nil {
			panic(err)
		}
	}
	if err := f.Close(); err != nil {
		panic(err)
	}
}

func peelList(id string, positive bool, texts []string) []peelSample {
	var out []peelSample
	for _, t := range texts {
		out = append(out, peelSample{Rule: id, Positive: positive, Text: t})
	}
	return out
}

func peelMap(id string, positive bool, byPath map[string]string) []peelSample {
	var out []peelSample
	for p, t := range byPath {
		out = append(out, peelSample{Rule: id, Positive: positive, Text: t, Path: p})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func Validate(rule config.Rule, truePositives []string, falsePositives []string) *config.Rule {
	peelRecord(append(peelList(rule.RuleID, true, truePositives), peelList(rule.RuleID, false, falsePositives)...))
	return peelValidate(rule, truePositives, falsePositives)
}

func ValidateWithPaths(rule config.Rule, truePositives map[string]string, falsePositives map[string]string) *config.Rule {
	peelRecord(append(peelMap(rule.RuleID, true, truePositives), peelMap(rule.RuleID, false, falsePositives)...))
	return peelValidateWithPaths(rule, truePositives, falsePositives)
}
`

func run(out string) error {
	mod, err := locate()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "peel-gitleaks-samples-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	root := filepath.Join(tmp, "gitleaks")
	if err := copyModule(mod.Dir, root); err != nil {
		return fmt.Errorf("copying %s: %w", mod.Dir, err)
	}
	utils := filepath.Join(root, "cmd", "generate", "config", "utils")
	if err := patch(filepath.Join(utils, "validate.go"), map[string]string{
		"func Validate(":          "func peelValidate(",
		"func ValidateWithPaths(": "func peelValidateWithPaths(",
	}); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(utils, "peel_record.go"), []byte(recorder), 0o644); err != nil {
		return err
	}
	samples := filepath.Join(tmp, "samples.jsonl")
	toml := filepath.Join(tmp, "gitleaks.toml")
	cmd := exec.Command("go", "run", ".", toml)
	cmd.Dir = filepath.Join(root, "cmd", "generate", "config")
	cmd.Env = append(os.Environ(), "PEEL_SAMPLES_OUT="+samples, "GOWORK=off", "GOFLAGS=-mod=mod")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = os.Stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("running gitleaks' rule generator: %v\n%s", err, tail(stderr.String()))
	}
	// The generator writes the default config anew: it must be the one
	// gitleaks ships, or these are not the samples of the rules peel runs.
	got, err := os.ReadFile(toml)
	if err != nil {
		return err
	}
	want, err := os.ReadFile(filepath.Join(mod.Dir, "config", "gitleaks.toml"))
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("gitleaks' generator built a config other than its shipped config/gitleaks.toml")
	}
	body, err := os.ReadFile(samples)
	if err != nil {
		return fmt.Errorf("no samples recorded: %w", err)
	}
	head, _ := json.Marshal(map[string]string{"gitleaks": mod.Version})
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	part := out + ".part"
	if err := os.WriteFile(part, append(append(head, '\n'), body...), 0o644); err != nil {
		return err
	}
	if err := os.Rename(part, out); err != nil {
		return err
	}
	fmt.Printf("%d samples of gitleaks %s written to %s\n", bytes.Count(body, []byte{'\n'}), mod.Version, out)
	return nil
}

type module struct{ Dir, Version string }

// locate finds the gitleaks module of go.mod in the module cache
// (downloading it unless GOPROXY is off).
func locate() (module, error) {
	var m module
	cmd := exec.Command("go", "mod", "download", "-json", gitleaksModule)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		return m, fmt.Errorf("go mod download %s: %v\n%s%s", gitleaksModule, err, outb, tail(stderr.String()))
	}
	if err := json.Unmarshal(outb, &m); err != nil || m.Dir == "" {
		return m, fmt.Errorf("go mod download %s: no module directory in %q", gitleaksModule, outb)
	}
	return m, nil
}

// copyModule copies a module tree, without its testdata, as writable files.
func copyModule(from, to string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		switch {
		case d.IsDir() && d.Name() == "testdata":
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		case !d.Type().IsRegular():
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
}

// patch replaces each old string, which must occur exactly once, in a file.
func patch(file string, repl map[string]string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	s := string(b)
	for old, repl := range repl {
		if n := strings.Count(s, old); n != 1 {
			return errors.New(file + ": " + fmt.Sprint(n) + " occurrences of " + strings.TrimSpace(old) +
				" (gitleaks' generator changed: update testdata/gitleaks-samples)")
		}
		s = strings.Replace(s, old, repl, 1)
	}
	return os.WriteFile(file, []byte(s), 0o644)
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}
