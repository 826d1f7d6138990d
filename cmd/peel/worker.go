package main

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/peelscan/peel/report"
	"github.com/peelscan/peel/scanner/fleet"
)

type workerOptions struct {
	scan        scanOptions // registry access
	queue       queueFlags
	concurrency int
	global      *globalOptions // --debug
}

const workerLong = `Process the tasks of a queue that peel enqueue fills, until SIGINT or
SIGTERM: resolve each image, read each layer that the shared layer cache
lacks (one task per distinct layer, however many images hold it), and
keep the results in that cache, for peel results. Run as many workers, on
as many machines, as the registry and the cache can serve.

A worker reaches registries as peel scan does: credentials from its own
Docker config (DOCKER_CONFIG, ~/.docker/config.json, credential helpers)
or --username with --password-stdin; none come from the queue. A worker
that dies mid-task loses nothing: the task goes back on the queue for
another once its lease expires (one to two minutes).

On stopping it prints its counters: tasks done, layers read, cache hits;
--debug (-v) prints a line per task with the counters so far.`

func newWorkerCommand(g *globalOptions) *cobra.Command {
	o := &workerOptions{global: g, scan: scanOptions{global: g}}
	cmd := &cobra.Command{
		Use:   "worker --queue redis://HOST:PORT/DB",
		Short: "Scan images from a queue",
		Long:  workerLong,
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runWorker(cmd, o) },
	}
	f := cmd.Flags()
	addQueueFlags(f, &o.queue)
	addRegistryFlags(f, &o.scan)
	f.IntVarP(&o.concurrency, "concurrency", "c", 2, "tasks to run at once")
	return cmd
}

func runWorker(cmd *cobra.Command, o *workerOptions) error {
	if o.concurrency < 1 {
		return errors.New("bad flag: --concurrency must be at least 1")
	}
	src, err := sourceOptions(&o.scan, cmd.InOrStdin())
	if err != nil {
		return err
	}
	ctx := cmd.Context()
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
	stderr := cmd.ErrOrStderr()
	var mu sync.Mutex
	say := func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, "%s peel worker: %s\n", time.Now().UTC().Format("15:04:05"), report.Printable(msg))
	}
	cfg := fleet.WorkerConfig{Concurrency: o.concurrency, Source: src, Cache: c, TempDir: tmp, Warn: say}
	if o.global.debug {
		cfg.Log = func(format string, args ...any) { say(fmt.Sprintf(format, args...)) }
	}
	say(fmt.Sprintf("serving queue %s on %s, %d task(s) at once", o.queue.queueName, redisAddr(o.queue.queueURL), o.concurrency))
	counters, err := queue.Work(ctx, cfg)
	if err != nil {
		return err
	}
	say("stopped: " + counters.String())
	return nil
}

// redisAddr is a Redis URL's host:port, without its credentials.
func redisAddr(url string) string {
	o, err := fleet.RedisOptions(url, nil)
	if err != nil {
		return "?"
	}
	return o.Addr
}
