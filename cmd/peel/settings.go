package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// Every flag can also be set by an environment variable PEEL_<FLAG>
// (upper case, "-" as "_": PEEL_FAIL_ON=high) and by a key of the config
// file (peel.yaml in the working directory, or --config-file): the flag's
// name, with a value or a list. The command line comes first, then the
// environment, then the file. This is done here by hand, in a few lines,
// rather than with viper: pflag already parses and validates every value,
// and viper would add its own (case-folded keys, list splitting) beside it.

// defaultConfigFile is read from the working directory when neither
// --config-file nor PEEL_CONFIG_FILE names another.
const defaultConfigFile = "peel.yaml"

// originAnnotation records, on a flag set from the environment or the
// config file, where its value came from, for messages about it.
const originAnnotation = "peel-origin"

// notSettings are the flags the environment and the config file do not
// set.
var notSettings = map[string]bool{"help": true, "version": true, "config-file": true}

// envName is the environment variable of a flag.
func envName(flag string) string {
	return "PEEL_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applySettings sets each flag of cmd that the command line left alone
// from its environment variable, else from the config file. A key of the
// file that is no flag of any peel command is an error, naming it.
func applySettings(cmd *cobra.Command) error {
	file, values, err := readConfigFile(cmd)
	if err != nil {
		return err
	}
	if file != "" {
		known := map[string]bool{}
		var walk func(c *cobra.Command)
		walk = func(c *cobra.Command) {
			c.Flags().VisitAll(func(f *pflag.Flag) { known[f.Name] = !notSettings[f.Name] })
			c.PersistentFlags().VisitAll(func(f *pflag.Flag) { known[f.Name] = !notSettings[f.Name] })
			for _, sub := range c.Commands() {
				walk(sub)
			}
		}
		walk(cmd.Root())
		var keys []string
		for k := range values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !known[k] {
				return fmt.Errorf("bad flag: --config-file %s: unknown key %q (the keys are the flags of peel scan, such as fail-on or severity)", file, k)
			}
		}
	}
	var failed error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if failed != nil || f.Changed || notSettings[f.Name] {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok && v != "" {
			failed = setFlag(cmd.Flags(), f, envName(f.Name), listOf(f, []string{v}))
			return
		}
		if v, ok := values[f.Name]; ok {
			origin := file + ": " + f.Name
			vals, err := yamlValues(f, v)
			if err != nil {
				failed = fmt.Errorf("bad flag: --config-file %s: %w", origin, err)
				return
			}
			failed = setFlag(cmd.Flags(), f, origin, vals)
		}
	})
	return failed
}

// readConfigFile reads the config file: --config-file (or
// PEEL_CONFIG_FILE), which must exist, else peel.yaml in the working
// directory if there is one.
func readConfigFile(cmd *cobra.Command) (string, map[string]any, error) {
	file, explicit := "", true
	if f := cmd.Flags().Lookup("config-file"); f != nil && f.Changed {
		file = f.Value.String()
	} else if v := os.Getenv(envName("config-file")); v != "" {
		file = v
	} else {
		file, explicit = defaultConfigFile, false
	}
	b, err := os.ReadFile(file)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return "", nil, nil
		}
		return "", nil, fmt.Errorf("bad flag: --config-file: %w", err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(b, &values); err != nil {
		return "", nil, fmt.Errorf("bad flag: --config-file %s: not a YAML mapping of flag names to values: %s", file, strings.Join(strings.Fields(err.Error()), " "))
	}
	return file, values, nil
}

// isList tells the flags that take several values.
func isList(f *pflag.Flag) bool {
	t := f.Value.Type()
	return strings.HasSuffix(t, "Slice") || strings.HasSuffix(t, "Array")
}

// listOf splits an environment value of a list flag at commas.
func listOf(f *pflag.Flag, vals []string) []string {
	if !isList(f) {
		return vals
	}
	var out []string
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// yamlValues turns a config file value into the flag's values: a scalar,
// or for a list flag a list of scalars.
func yamlValues(f *pflag.Flag, v any) ([]string, error) {
	scalar := func(x any) (string, error) {
		switch x := x.(type) {
		case string:
			return x, nil
		case bool, int, int64, uint64, float64:
			return fmt.Sprint(x), nil
		case nil:
			return "", errors.New("no value")
		}
		return "", fmt.Errorf("a %T is not a value", x)
	}
	if list, ok := v.([]any); ok {
		if !isList(f) {
			return nil, errors.New("takes one value, not a list")
		}
		var out []string
		for _, x := range list {
			s, err := scalar(x)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := scalar(v)
	if err != nil {
		return nil, err
	}
	return listOf(f, []string{s}), nil
}

// setFlag sets a flag's values as the command line would, and records
// where they came from.
func setFlag(fs *pflag.FlagSet, f *pflag.Flag, origin string, vals []string) error {
	for _, v := range vals {
		if err := fs.Set(f.Name, v); err != nil {
			return fmt.Errorf("bad flag: %s: %w", origin, err)
		}
	}
	if f.Annotations == nil {
		f.Annotations = map[string][]string{}
	}
	f.Annotations[originAnnotation] = []string{origin}
	return nil
}

// flagLabel names a flag in a message as the user set it: --fail-on, or
// PEEL_FAIL_ON, or peel.yaml: fail-on.
func flagLabel(cmd *cobra.Command, name string) string {
	if f := cmd.Flags().Lookup(name); f != nil {
		if o := f.Annotations[originAnnotation]; len(o) > 0 {
			return o[0]
		}
	}
	return "--" + name
}
