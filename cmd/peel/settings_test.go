package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// scanFlags runs "peel ARGS…" in process with the scan command's work
// replaced by a look at its flags: their values, and where they came from.
func scanFlags(t *testing.T, args ...string) (map[string]string, map[string]string, error) {
	t.Helper()
	root := newRootCommand()
	values, origins := map[string]string{}, map[string]string{}
	for _, c := range root.Commands() {
		if c.Name() == "scan" {
			c.RunE = func(cmd *cobra.Command, _ []string) error {
				cmd.Flags().VisitAll(func(f *pflag.Flag) {
					values[f.Name] = f.Value.String()
					origins[f.Name] = flagLabel(cmd, f.Name)
				})
				return nil
			}
		}
	}
	root.SetArgs(args)
	root.SetOut(new(strings.Builder))
	err := root.Execute()
	return values, origins, err
}

// sample is a value of each flag's type that differs from its default,
// as set and as pflag shows it back.
func sample(f *pflag.Flag) (set []string, shown string) {
	switch f.Value.Type() {
	case "bool":
		return []string{"true"}, "true"
	case "int", "int64":
		return []string{"7"}, "7"
	case "duration":
		return []string{"42s"}, "42s"
	case "stringSlice", "stringArray":
		return []string{"a-" + f.Name, "b-" + f.Name}, "[a-" + f.Name + ",b-" + f.Name + "]"
	}
	return []string{"v-" + f.Name}, "v-" + f.Name
}

// settable lists the flags of peel scan that the environment and the
// config file set: all of them but help, version and config-file.
func settable(t *testing.T) []*pflag.Flag {
	root := newRootCommand()
	var out []*pflag.Flag
	for _, c := range root.Commands() {
		if c.Name() != "scan" {
			continue
		}
		c.InheritedFlags().VisitAll(func(f *pflag.Flag) { out = append(out, f) })
		c.LocalFlags().VisitAll(func(f *pflag.Flag) { out = append(out, f) })
	}
	var keep []*pflag.Flag
	for _, f := range out {
		if !notSettings[f.Name] {
			keep = append(keep, f)
		}
	}
	sort.Slice(keep, func(i, j int) bool { return keep[i].Name < keep[j].Name })
	if len(keep) < 30 {
		t.Fatalf("only %d flags", len(keep))
	}
	return keep
}

// TestEveryFlagFromEnvironmentAndConfigFile sets every flag of peel scan,
// one at a time, by its PEEL_<FLAG> variable and by its config file key,
// and checks that the flag took the value and says where it came from.
func TestEveryFlagFromEnvironmentAndConfigFile(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	os.Chdir(dir)
	for _, f := range settable(t) {
		set, shown := sample(f)
		t.Run(f.Name, func(t *testing.T) {
			env := envName(f.Name)
			t.Setenv(env, strings.Join(set, ","))
			values, origins, err := scanFlags(t, "scan", "x")
			if err != nil || values[f.Name] != shown || origins[f.Name] != env {
				t.Errorf("%s=%s: --%s is %q from %q (%v), want %q", env, strings.Join(set, ","), f.Name, values[f.Name], origins[f.Name], err, shown)
			}
			os.Unsetenv(env)

			yamlValue := set[0]
			if len(set) > 1 {
				yamlValue = "[" + strings.Join(set, ", ") + "]"
			}
			os.WriteFile(defaultConfigFile, []byte(f.Name+": "+yamlValue+"\n"), 0o644)
			defer os.Remove(defaultConfigFile)
			values, origins, err = scanFlags(t, "scan", "x")
			if err != nil || values[f.Name] != shown || origins[f.Name] != "peel.yaml: "+f.Name {
				t.Errorf("peel.yaml %s: %s: --%s is %q from %q (%v), want %q", f.Name, yamlValue, f.Name, values[f.Name], origins[f.Name], err, shown)
			}
		})
	}
}

// TestSettingsOrder: the command line wins over the environment, which
// wins over the config file; --config-file and PEEL_CONFIG_FILE name
// another file, which must exist; a key that is no flag, a list for a flag
// of one value, and a bad value are errors naming where they came from.
func TestSettingsOrder(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	os.Chdir(dir)
	os.WriteFile(defaultConfigFile, []byte("fail-on: medium\nseverity: [critical, high]\nquiet: true\n"), 0o644)
	other := filepath.Join(dir, "other.yaml")
	os.WriteFile(other, []byte("fail-on: critical\n"), 0o644)

	values, origins, err := scanFlags(t, "scan", "x")
	if err != nil || values["fail-on"] != "medium" || values["severity"] != "[critical,high]" || values["quiet"] != "true" || origins["quiet"] != "peel.yaml: quiet" {
		t.Errorf("from peel.yaml: %v %v %v", values["fail-on"], values["severity"], err)
	}
	t.Setenv("PEEL_FAIL_ON", "high")
	if values, origins, _ = scanFlags(t, "scan", "x"); values["fail-on"] != "high" || origins["fail-on"] != "PEEL_FAIL_ON" {
		t.Errorf("the environment did not win over the file: %s from %s", values["fail-on"], origins["fail-on"])
	}
	if values, origins, _ = scanFlags(t, "scan", "--fail-on", "low", "x"); values["fail-on"] != "low" || origins["fail-on"] != "--fail-on" {
		t.Errorf("the command line did not win: %s from %s", values["fail-on"], origins["fail-on"])
	}
	os.Unsetenv("PEEL_FAIL_ON")
	if values, _, _ = scanFlags(t, "scan", "--config-file", other, "x"); values["fail-on"] != "critical" || values["severity"] != "[]" {
		t.Errorf("--config-file: fail-on %s severity %s", values["fail-on"], values["severity"])
	}
	t.Setenv("PEEL_CONFIG_FILE", other)
	if values, _, _ = scanFlags(t, "scan", "x"); values["fail-on"] != "critical" {
		t.Errorf("PEEL_CONFIG_FILE: fail-on %s", values["fail-on"])
	}
	os.Unsetenv("PEEL_CONFIG_FILE")

	for _, tc := range []struct {
		file, want string
		args       []string
	}{
		{"fail_on: high\n", `bad flag: --config-file peel.yaml: unknown key "fail_on"`, nil},
		{"fail-on: [high, low]\n", "bad flag: --config-file peel.yaml: fail-on: takes one value, not a list", nil},
		{"max-depth: deep\n", `bad flag: peel.yaml: max-depth: invalid argument "deep"`, nil},
		{"- fail-on\n", "bad flag: --config-file peel.yaml: not a YAML mapping", nil},
		{"", "bad flag: --config-file: open " + filepath.Join(dir, "none.yaml"), []string{"--config-file", filepath.Join(dir, "none.yaml")}},
	} {
		os.WriteFile(defaultConfigFile, []byte(tc.file), 0o644)
		_, _, err := scanFlags(t, append(append([]string{"scan"}, tc.args...), "x")...)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.file, err, tc.want)
		}
	}
	os.Remove(defaultConfigFile)
	t.Setenv("PEEL_MAX_DEPTH", "deep")
	if _, _, err := scanFlags(t, "scan", "x"); err == nil || !strings.HasPrefix(err.Error(), `bad flag: PEEL_MAX_DEPTH: invalid argument "deep"`) {
		t.Errorf("bad PEEL_MAX_DEPTH: %v", err)
	}
	// Keys of the scan command are allowed in the file when another
	// command runs.
	os.Unsetenv("PEEL_MAX_DEPTH")
	os.WriteFile(defaultConfigFile, []byte("fail-on: high\n"), 0o644)
	root := newRootCommand()
	root.SetArgs([]string{"version"})
	var out strings.Builder
	root.SetOut(&out)
	if err := root.Execute(); err != nil || !strings.HasPrefix(out.String(), "peel ") {
		t.Errorf("version with a peel.yaml: %v %q", err, out.String())
	}
}
