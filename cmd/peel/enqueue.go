package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/peelscan/peel/scanner"
	"github.com/peelscan/peel/scanner/fleet"
)

type enqueueOptions struct {
	global    *globalOptions
	scan      scanOptions // registry access and the spec flags
	list      manyFlags   // --all-tags, --from-file, --tags, --max-tags
	queue     queueFlags
	run       string
	retention time.Duration
	wait      bool
	report    reportFlags
}

const enqueueLong = `Put a run on the queue: one task per image, for peel worker processes to
scan (see "Scanning a registry" in the README). IMAGE is a registry
reference; with --all-tags a repository (HOST/REPO) or a whole registry
(HOST). Prints the run's ID, for peel results; with --wait, waits for the
run and writes its report as peel results does.

Registry credentials are used here only to list tags and catalogs: the
queue carries references and scan options, never credentials; each
worker reaches the registry with its own.

Exit status (with --wait): 0 no finding at or above --fail-on, 1 findings,
2 error (any image that could not be scanned, which the report lists).`

func newEnqueueCommand(g *globalOptions) *cobra.Command {
	o := &enqueueOptions{global: g, scan: scanOptions{global: g}}
	cmd := &cobra.Command{
		Use:   "enqueue --queue redis://HOST:PORT/DB IMAGE...",
		Short: "Put images on a queue for peel workers",
		Long:  enqueueLong,
		Example: `  peel enqueue --queue redis://127.0.0.1:6379/0 --all-tags registry.example.com
  peel enqueue --queue redis://127.0.0.1:6379/0 --wait -f sarif --all-tags registry.example.com/team/app`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && o.list.fromFile == "" {
				return errors.New("requires at least 1 arg(s): an IMAGE (or --from-file)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runEnqueue(cmd, o, args) },
	}
	f := cmd.Flags()
	addQueueFlags(f, &o.queue)
	addListFlags(f, &o.list)
	addRegistryFlags(f, &o.scan)
	addSpecFlags(f, &o.scan)
	addReportFlags(f, &o.report)
	f.StringVar(&o.run, "run", "", "name the run (default: a random ID)")
	f.DurationVar(&o.retention, "retention", fleet.DefaultRetention, "how long the run's record and results stay on the queue once done")
	f.BoolVar(&o.wait, "wait", false, "wait for the run and write its report")
	f.DurationVar(&o.scan.timeout, "timeout", 24*time.Hour, "with --wait, the longest to wait for the run")
	return cmd
}

func runEnqueue(cmd *cobra.Command, o *enqueueOptions, args []string) error {
	sp, err := spec(&o.scan)
	if err != nil {
		return err
	}
	var rp *reportPlan
	if o.wait {
		if rp, err = o.report.prepare(cmd, o.global); err != nil {
			return err
		}
		if o.scan.timeout <= 0 {
			return errors.New("bad flag: --timeout must be positive")
		}
	}
	src, err := sourceOptions(&o.scan, cmd.InOrStdin())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeoutCause(cmd.Context(), o.scan.timeout, errTimedOut)
	defer cancel()
	queue, c, closeQueue, err := o.queue.open(ctx)
	if err != nil {
		return err
	}
	defer closeQueue()
	inputs, err := o.list.inputs(ctx, args, cmd.InOrStdin(), src)
	if err != nil {
		return o.scan.failure(ctx, "", err)
	}
	for _, in := range inputs {
		if kind := kindOf(in); kind != scanner.KindRegistry || strings.HasPrefix(in, "/") || strings.HasPrefix(in, ".") {
			return fmt.Errorf("%s: only registry references go on the queue (a worker on another machine cannot read a local input)", in)
		}
		if _, err := os.Stat(in); err == nil {
			return fmt.Errorf("%s: a local path: only registry references go on the queue", in)
		}
	}
	start := time.Now()
	run, err := queue.Enqueue(ctx, inputs, sp, fleet.EnqueueOptions{Run: o.run, Retention: o.retention})
	if err != nil {
		return err
	}
	if !o.wait {
		fmt.Fprintln(cmd.OutOrStdout(), run)
		if !o.report.quiet {
			fmt.Fprintf(cmd.ErrOrStderr(), "peel: run %s: %d image(s) on the queue; its report: peel results --queue … --run %s\n", run, len(inputs), run)
		}
		return nil
	}
	if !o.report.quiet {
		fmt.Fprintf(cmd.ErrOrStderr(), "peel: run %s: %d image(s) on the queue\n", run, len(inputs))
	}
	tmp, err := privateTempDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	results, err := waitResults(ctx, cmd, queue, c, run, tmp, o.report.quiet)
	if err != nil {
		return o.scan.failure(ctx, "", err)
	}
	return rp.write(ctx, cmd, results, time.Since(start))
}
