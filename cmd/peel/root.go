package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/peelscan/peel/report"
	"github.com/peelscan/peel/rules"
)

// version is set at build time with -ldflags "-X main.version=…"; module
// builds fall back to the module version.
var version = ""

func toolVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// gitleaksModule is the module whose rule catalogue peel runs.
const gitleaksModule = "github.com/zricethezav/gitleaks/v8"

// versionText is what peel version and peel --version print: peel's
// version, gitleaks', the rules, the report schemas and Go's.
func versionText() string {
	glVersion := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == gitleaksModule {
				glVersion = d.Version
				if d.Replace != nil {
					glVersion = d.Replace.Version
				}
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "peel %s\n", toolVersion())
	fmt.Fprintf(&b, "  gitleaks     %s\n", glVersion)
	if e, err := rules.DefaultEngine(); err == nil {
		all, gl := e.Rules(), 0
		for _, r := range all {
			if strings.HasPrefix(r.ID, rules.GitleaksPrefix) {
				gl++
			}
		}
		fmt.Fprintf(&b, "  rules        %d (%d of peel's own, %d of gitleaks' catalogue); ruleset %s\n", len(all), len(all)-gl, gl, e.Version())
	}
	fmt.Fprintf(&b, "  JSON report  %s\n", report.Schema)
	fmt.Fprintf(&b, "  SARIF        2.1.0\n")
	fmt.Fprintf(&b, "  go           %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return b.String()
}

// globalOptions are the flags of every command.
type globalOptions struct {
	debug      bool
	noColor    bool
	configFile string
}

func newRootCommand() *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "peel",
		Short: "Find secrets baked into container images",
		Long: `peel finds secrets baked into container images. It reads every layer and the
image config, opens fat jars and nested archives, reads configuration (Spring
properties and YAML, .env, XML, JSON, …) line by line, runs gitleaks' rule
catalogue, recognizes private keys and keystores, and proves keystores open
with the passwords it finds. Reports: table, JSON, SARIF.

Every flag can also be set by an environment variable PEEL_<FLAG>
(PEEL_FAIL_ON=high) or a key of the config file (peel.yaml in the working
directory, or --config-file): the command line first, then the environment,
then the file.`,
		Version:       toolVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
		// The environment and the config file fill in what the command
		// line left alone, for whichever command runs.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return applySettings(cmd) },
	}
	pf := root.PersistentFlags()
	pf.BoolVarP(&g.debug, "debug", "v", false, "log to stderr what peel does: inputs resolved, registries, mirrors and URLs tried, layer cache hits (never a secret or a credential); the progress line is off")
	pf.BoolVar(&g.noColor, "no-color", false, "no colour in the table, even on a terminal (NO_COLOR does the same)")
	pf.StringVar(&g.configFile, "config-file", "", "YAML file of flag values, keyed by flag name (default: peel.yaml in the working directory, if any); not --config, which is a gitleaks config")
	cobra.AddTemplateFunc("peelVersion", versionText)
	root.SetVersionTemplate(`{{peelVersion}}`)
	root.AddCommand(newScanCommand(g), newEnqueueCommand(g), newWorkerCommand(g), newResultsCommand(g), &cobra.Command{
		Use:   "version",
		Short: "Print the versions of peel, gitleaks, the rules, the report schemas and Go",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			io.WriteString(cmd.OutOrStdout(), versionText())
		},
	})
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fmt.Errorf("bad flag: %w", err) })
	return root
}
