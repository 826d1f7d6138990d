package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/peelscan/peel/report"
	"github.com/peelscan/peel/rules"
	"github.com/peelscan/peel/scanner"
	"github.com/peelscan/peel/scanner/cache"
	"github.com/peelscan/peel/scanner/cache/rediscache"
	"github.com/peelscan/peel/scanner/fleet"
)

// queueFlags name the queue and the layer cache its workers share.
type queueFlags struct {
	queueURL  string
	queueName string
	many      manyFlags // --cache, --redis-ca-file, --cache-ttl
}

func addQueueFlags(f *pflag.FlagSet, q *queueFlags) {
	f.StringVar(&q.queueURL, "queue", "", "the run queue in Redis: redis://[USER[:PASSWORD]@]HOST:PORT/DB or rediss:// (TLS); a password left out of the URL is read from "+redisPasswordEnv)
	f.StringVar(&q.queueName, "queue-name", fleet.DefaultQueue, "the queue's name on that Redis")
	addCacheFlags(f, &q.many)
	f.Lookup("cache").Usage = "the layer cache the workers share, in Redis (default: the queue's Redis), sealed with the key in $PEEL_CACHE_KEY (required)"
}

// open connects to the queue and to the shared layer cache.
func (q *queueFlags) open(ctx context.Context) (*fleet.Queue, scanner.LayerCache, func(), error) {
	if q.queueURL == "" {
		return nil, nil, nil, errors.New("bad flag: --queue is required (redis://HOST:PORT/DB)")
	}
	rdb, err := redisClient("queue", q.queueURL, q.many.redisCAFile)
	if err != nil {
		return nil, nil, nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	queue, err := fleet.Open(pctx, rdb, q.queueName)
	if err != nil {
		rdb.Close()
		return nil, nil, nil, fmt.Errorf("--queue: %s: %w", rdb.Options().Addr, err)
	}
	closers := []func(){func() { queue.Close() }, func() { rdb.Close() }}
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	var c scanner.LayerCache
	if q.many.cacheURL == "" {
		// The queue's Redis keeps the layer results: sealed as a --cache
		// is, under the key every worker is given.
		key, err := cacheKey(true)
		if err != nil {
			closeAll()
			return nil, nil, nil, err
		}
		c = cache.Seal(rediscache.New(rdb, rediscache.Options{TTL: q.many.cacheTTL}), key)
	} else {
		var closeCache func()
		if c, closeCache, err = q.many.layerCache(pctx, false, ""); err != nil {
			closeAll()
			return nil, nil, nil, err
		}
		closers = append([]func(){closeCache}, closers...)
	}
	return queue, c, closeAll, nil
}

// addRegistryFlags registers the flags of registry access, as peel scan
// has them.
func addRegistryFlags(f *pflag.FlagSet, o *scanOptions) {
	f.StringArrayVar(&o.mirrors, "registry-mirror", nil, "HOST[:PORT] to pull Docker Hub images from first, falling back to Docker Hub, as dockerd's registry-mirrors (repeatable)")
	f.StringVar(&o.caFile, "ca-file", "", "PEM file of certificate authorities to trust for registry TLS, besides the system's")
	f.StringArrayVar(&o.insecure, "insecure-registry", nil, "HOST[:PORT] to reach over plain HTTP or unverified TLS; that host only (repeatable)")
	f.StringVarP(&o.username, "username", "u", "", "user name for the registry (with --password-stdin)")
	f.BoolVar(&o.passStdin, "password-stdin", false, "read that registry's password from standard input")
}

// sourceOptions builds registry access from the registry flags.
func sourceOptions(o *scanOptions, stdin io.Reader) (scanner.SourceOptions, error) {
	src := scanner.SourceOptions{Mirrors: o.mirrors, Insecure: o.insecure, Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}
	var err error
	src.Transport, src.Credentials, err = registryAccess(o, stdin)
	return src, err
}

// addSpecFlags registers the flags that change what a scan reports, as
// peel scan has them; they travel with a run's tasks.
func addSpecFlags(f *pflag.FlagSet, o *scanOptions) {
	f.StringVar(&o.platform, "platform", "linux/amd64", "platform to pick from a multi-platform image: os/arch[/variant]")
	f.BoolVar(&o.allPlat, "all-platforms", false, "scan every image of a multi-platform index, each reported separately")
	f.BoolVar(&o.foreign, "allow-foreign-layers", false, "fetch a layer the registry does not serve from the URLs its manifest names (foreign layers)")
	f.StringVar(&o.config, "config", "", "gitleaks config (.gitleaks.toml) to use instead of gitleaks' default rules; [extend] useDefault = true keeps them")
	f.BoolVar(&o.noGitleaks, "no-gitleaks", false, "run peel's own detectors only, without gitleaks' rule catalogue")
	f.BoolVar(&o.scan.Explain, "explain", false, "list what was looked at and dismissed, and why")
	f.BoolVar(&o.scan.IncludeDependencyTests, "include-dependency-tests", false, "report findings in the test resources of third-party code (test/, tests/, fixtures/, testdata/, examples/, *_test.go, … of bundled jars, Python packages, node_modules, Go trees and modules, gems, software under /usr)")
	f.IntVar(&o.scan.MaxDepth, "max-depth", scanner.DefaultMaxDepth, "how many archives deep to open")
	f.Int64Var(&o.scan.MaxFileSize, "max-file-size", scanner.DefaultMaxFileSize, "how much of a text file to scan, in bytes")
	f.Int64Var(&o.scan.MaxArchiveSize, "max-archive-size", scanner.DefaultMaxArchiveSize, "largest nested archive to open, in bytes")
	f.Int64Var(&o.scan.MaxTotalInflate, "max-total-inflate", scanner.DefaultMaxTotalInflate, "most bytes to decompress in one task, layers and nested archives together")
	f.Int64Var(&o.scan.MaxRatio, "max-ratio", scanner.DefaultMaxRatio, "highest compression ratio of a layer stream or archive member, checked past 16 MiB")
	f.IntVar(&o.scan.MaxEntries, "max-entries", scanner.DefaultMaxEntries, "most members to read from one archive")
}

// spec is the run's spec from the spec flags, its rules checked here.
func spec(o *scanOptions) (fleet.Spec, error) {
	p, err := v1.ParsePlatform(o.platform)
	if err != nil || p.OS == "" || p.Architecture == "" {
		return fleet.Spec{}, fmt.Errorf("bad flag: --platform %q: want os/arch[/variant]", o.platform)
	}
	if o.scan.MaxDepth < 1 || o.scan.MaxFileSize < 1 || o.scan.MaxArchiveSize < 1 || o.scan.MaxTotalInflate < 1 || o.scan.MaxRatio < 1 || o.scan.MaxEntries < 1 {
		return fleet.Spec{}, errors.New("bad flag: the --max-* limits must be positive")
	}
	s := fleet.Spec{Result: o.scan.ResultOptions, MaxTotalInflate: o.scan.MaxTotalInflate, Platform: o.platform,
		AllPlatforms: o.allPlat, AllowForeignLayers: o.foreign, NoGitleaks: o.noGitleaks}
	if o.config != "" {
		if o.noGitleaks {
			return s, errors.New("bad flag: --config and --no-gitleaks exclude each other")
		}
		if s.GitleaksConfig, err = os.ReadFile(o.config); err != nil {
			return s, fmt.Errorf("bad flag: --config: %w", err)
		}
	}
	if _, err := s.Engine(); err != nil {
		return s, fmt.Errorf("%s: %w", o.config, err)
	}
	return s, nil
}

// reportFlags are the flags of the report a run's results make, as peel
// scan has them.
type reportFlags struct {
	format, ignoreFile, baseline, fpKeyEnv, failOn string
	outputs                                        []string
	quiet, showSecrets                             bool
}

func addReportFlags(f *pflag.FlagSet, r *reportFlags) {
	f.StringVarP(&r.format, "format", "f", "table", "report format: table, json, sarif")
	f.StringArrayVarP(&r.outputs, "output", "o", nil, "write the report to FILE instead of stdout, or FORMAT=FILE to add one (repeatable; - is stdout)")
	f.StringVar(&r.ignoreFile, "ignore-file", "", "ignore file of finding fingerprints and location globs (default: .peelignore in the working directory, if any)")
	f.StringVar(&r.baseline, "baseline", "", "an earlier peel JSON report: report and fail only on findings not in it")
	f.StringVar(&r.fpKeyEnv, "fingerprint-key-env", defaultFingerprintKeyEnv, "environment variable holding a fingerprint key (see peel scan --help)")
	f.BoolVarP(&r.quiet, "quiet", "q", false, "no progress and no summary on stderr")
	f.StringVar(&r.failOn, "fail-on", "low", "exit 1 when a finding is at or above this severity: critical, high, medium, low, none")
	f.BoolVar(&r.showSecrets, "show-secrets", false, "print secrets in full instead of redacted")
}

// reportPlan is the checked report flags, ready to write.
type reportPlan struct {
	outs   []output
	failOn rules.Severity
	ropts  report.Options
	r      *reportFlags
	g      *globalOptions
}

// prepare checks the report flags before any work is done.
func (r *reportFlags) prepare(cmd *cobra.Command, g *globalOptions) (*reportPlan, error) {
	p := &reportPlan{r: r, g: g, ropts: report.Options{ToolVersion: toolVersion(), ShowSecrets: r.showSecrets}}
	var err error
	if p.outs, err = parseOutputs(r.format, cmd.Flags().Changed("format"), r.outputs); err != nil {
		return nil, err
	}
	if err := checkOutputs(p.outs); err != nil {
		return nil, err
	}
	if p.failOn, err = rules.ParseSeverity(r.failOn); err != nil {
		return nil, fmt.Errorf("bad flag: --fail-on: %w", err)
	}
	if p.ropts.FingerprintKey, err = fingerprintKey(r.fpKeyEnv, cmd.Flags().Changed("fingerprint-key-env")); err != nil {
		return nil, err
	}
	if p.ropts.Ignore, err = loadIgnoreFile(r.ignoreFile); err != nil {
		return nil, err
	}
	if r.baseline != "" {
		f, err := os.Open(r.baseline)
		if err != nil {
			return nil, fmt.Errorf("bad flag: --baseline: %w", err)
		}
		p.ropts.Baseline, err = report.LoadBaseline(r.baseline, f, p.ropts.FingerprintKey)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// write renders the report of results and says how the run ends: errors
// (an image could not be scanned), findings at --fail-on, or clean.
func (p *reportPlan) write(ctx context.Context, cmd *cobra.Command, results []*scanner.Result, took time.Duration) error {
	p.ropts.Duration = took
	rep := report.Build(results, p.ropts)
	if err := writeOutputs(ctx, p.outs, rep, cmd.OutOrStdout(), p.r.showSecrets, tableOptions(cmd.OutOrStdout(), p.g.noColor)); err != nil {
		return err
	}
	tableOnStdout := false
	for _, out := range p.outs {
		tableOnStdout = tableOnStdout || out.file == "" && out.format == "table"
	}
	if !p.r.quiet && !tableOnStdout {
		fmt.Fprintln(cmd.ErrOrStderr(), report.SummaryLine(rep))
	}
	if n := failedImages(results); n > 0 {
		return errImagesFailed(n)
	}
	if p.failOn != rules.SeverityNone && rep.MaxSeverity() >= p.failOn {
		return findingsError{code: exitFindings}
	}
	return nil
}

// waitResults waits for a run's results, telling on stderr (unless quiet)
// how far it has come and when no worker serves the queue.
func waitResults(ctx context.Context, cmd *cobra.Command, queue *fleet.Queue, c scanner.LayerCache, run, tmp string, quiet bool) ([]*scanner.Result, error) {
	stderr := cmd.ErrOrStderr()
	var last fleet.Status
	lastAt := time.Time{}
	noWorkers := 0
	return queue.Results(ctx, run, fleet.ResultsOptions{Cache: c, TempDir: tmp, Progress: func(st fleet.Status) {
		if quiet {
			return
		}
		if st.Workers == 0 {
			if noWorkers++; noWorkers == 20 { // 10 s
				fmt.Fprintf(stderr, "peel: no worker serves the queue yet (start peel worker --queue …)\n")
			}
		}
		if st != last && time.Since(lastAt) > 5*time.Second {
			fmt.Fprintf(stderr, "peel: run %s: %d of %d image(s) planned, %d layer(s) pending, %d worker(s)\n", run, st.ImagesDone, st.Images, st.LayersPending, st.Workers)
			last, lastAt = st, time.Now()
		}
	}})
}
