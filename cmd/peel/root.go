package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
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

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "peel",
		Short: "Find secrets baked into container images",
		Long: `peel finds secrets baked into container images. It reads every layer and the
image config, opens fat jars and nested archives, reads configuration (Spring
properties and YAML, .env, XML, JSON, …) line by line, runs gitleaks' rule
catalogue, recognizes private keys and keystores, and proves keystores open
with the passwords it finds. Reports: table, JSON, SARIF.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newScanCommand(), newEnqueueCommand(), newWorkerCommand(), newResultsCommand(), &cobra.Command{
		Use:   "version",
		Short: "Print peel's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "peel", toolVersion())
		},
	})
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fmt.Errorf("bad flag: %w", err) })
	return root
}
