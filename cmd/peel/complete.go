package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/peelscan/peel/report"
	"github.com/peelscan/peel/scanner"
)

// registerCompletions completes the values of the flags that take one of
// a few (peel completion bash|zsh|fish|powershell writes the script).
func registerCompletions(cmd *cobra.Command) {
	fixed := func(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return values, cobra.ShellCompDirectiveNoFileComp
		}
	}
	severities := []string{"critical", "high", "medium", "low"}
	_ = cmd.RegisterFlagCompletionFunc("format", fixed(report.Formats()...))
	_ = cmd.RegisterFlagCompletionFunc("fail-on", fixed(append(severities, "none")...))
	_ = cmd.RegisterFlagCompletionFunc("platform", fixed("linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/386", "linux/ppc64le", "linux/s390x", "windows/amd64"))
	_ = cmd.RegisterFlagCompletionFunc("severity", func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		// A comma-separated list: complete its last item.
		done, _ := cutLast(toComplete, ",")
		var out []string
		for _, s := range severities {
			if !strings.Contains(","+done, ","+s+",") {
				out = append(out, done+s)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	})
	_ = cmd.RegisterFlagCompletionFunc("output", func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if strings.Contains(toComplete, "=") {
			return nil, cobra.ShellCompDirectiveDefault // the file
		}
		var out []string
		for _, f := range report.Formats() {
			out = append(out, f+"=")
		}
		return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveDefault
	})
}

// cutLast splits s after the last sep: what is done, and the item being
// typed.
func cutLast(s, sep string) (string, string) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i+1], s[i+1:]
	}
	return "", s
}

// completeInput completes an IMAGE argument: the transport prefixes, and
// files.
func completeInput(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if strings.Contains(toComplete, ":") {
		return nil, cobra.ShellCompDirectiveDefault
	}
	var out []string
	for _, k := range []string{scanner.KindDockerArchive, scanner.KindOCI, scanner.KindOCIArchive, scanner.KindDaemon, scanner.KindDir} {
		out = append(out, k+":")
	}
	return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveDefault
}
