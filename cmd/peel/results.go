package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/spf13/cobra"
)

type resultsOptions struct {
	global  *globalOptions
	queue   queueFlags
	run     string
	timeout time.Duration
	report  reportFlags
	scan    scanOptions // for failure's wording
}

const resultsLong = `Wait for a run that peel enqueue put on the queue, then write its report:
the same table, JSON or SARIF as peel scan over the same images, with the
same findings and fingerprints. Images that could not be scanned are error
entries in it.

Exit status: 0 no finding at or above --fail-on, 1 findings, 2 error (any
image that could not be scanned, which the report lists).`

func newResultsCommand(g *globalOptions) *cobra.Command {
	o := &resultsOptions{global: g, scan: scanOptions{global: g}}
	cmd := &cobra.Command{
		Use:   "results --queue redis://HOST:PORT/DB --run ID",
		Short: "Write the report of a run on a queue",
		Long:  resultsLong,
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runResults(cmd, o) },
	}
	f := cmd.Flags()
	addQueueFlags(f, &o.queue)
	addReportFlags(f, &o.report)
	f.StringVar(&o.run, "run", "", "the run's ID, as peel enqueue printed it")
	f.DurationVar(&o.timeout, "timeout", 24*time.Hour, "the longest to wait for the run")
	return cmd
}

func runResults(cmd *cobra.Command, o *resultsOptions) error {
	if o.run == "" {
		return errors.New("bad flag: --run is required")
	}
	if o.timeout <= 0 {
		return errors.New("bad flag: --timeout must be positive")
	}
	rp, err := o.report.prepare(cmd, o.global)
	if err != nil {
		return err
	}
	o.scan.timeout = o.timeout
	ctx, cancel := context.WithTimeoutCause(cmd.Context(), o.timeout, errTimedOut)
	defer cancel()
	queue, c, closeQueue, err := o.queue.open(ctx)
	if err != nil {
		return err
	}
	defer closeQueue()
	tmp, err := privateTempDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	start := time.Now()
	results, err := waitResults(ctx, cmd, queue, c, o.run, tmp, o.report.quiet)
	if err != nil {
		return o.scan.failure(ctx, "", err)
	}
	return rp.write(ctx, cmd, results, time.Since(start))
}
