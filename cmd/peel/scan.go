package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/peelscan/peel/internal/privdir"
	"github.com/peelscan/peel/report"
	"github.com/peelscan/peel/rules"
	"github.com/peelscan/peel/scanner"
	"github.com/peelscan/peel/scanner/cache"
)

// scanOptions holds the scan command's flags.
type scanOptions struct {
	format      string
	outputs     []string
	ignoreFile  string
	baseline    string
	fpKeyEnv    string
	quiet       bool
	failOn      string
	showSecrets bool
	platform    string
	allPlat     bool
	foreign     bool
	mirrors     []string
	caFile      string
	insecure    []string
	username    string
	passStdin   bool
	config      string
	noGitleaks  bool
	noCache     bool
	cacheDir    string
	cpuProfile  string
	timeout     time.Duration
	severities  []string
	exitCode    int
	scan        scanner.Options
	many        manyFlags
	global      *globalOptions
	signatures  signatureOptions
}

const scanLong = `Scan container images for baked-in secrets.

IMAGE is one of:
  NAME[:TAG|@DIGEST]        an image in a registry (Docker Hub by default)
  docker-archive:PATH       a tar written by docker save
  oci:PATH[:REF]            an OCI image layout directory
  oci-archive:PATH[:REF]    a tar of an OCI image layout
  docker-daemon:NAME[:TAG]  an image in the local Docker daemon
  dir:PATH                  a directory, a jar or any single file
An existing local path needs no prefix: its kind is told from its contents.

An argument that is no existing path is an image reference: a short name
(alpine, org/app:1) is Docker Hub's; a first part with a dot or a colon, or
localhost, names a registry.

With --all-tags, each IMAGE is a repository (HOST/REPO) whose every tag is
scanned, or a registry (HOST) whose every repository is, from its catalog;
--from-file adds IMAGEs from a file. In such a run an image that cannot be
scanned is an error entry in the report and the others go on, and the exit
status is 2.

The signatures of registry and OCI layout images (cosign, Notation) are
looked up and reported; --verify-key and --notation-config verify them,
--require-signature fails an image without one that verifies.

Every flag can also be set by an environment variable PEEL_<FLAG>
(PEEL_FAIL_ON=high) or a key of the config file (peel.yaml, --config-file).

On a terminal, the table fits its width and shows colours (not with
--no-color or NO_COLOR); elsewhere, and with COLUMNS unset, it is a block
per finding, lines unwrapped.

Exit status: 0 no finding at or above --fail-on, 1 findings (or
--exit-code), 2 error, 130 interrupted (Ctrl-C), 141 standard output
closed early.`

func newScanCommand(g *globalOptions) *cobra.Command {
	o := &scanOptions{global: g}
	cmd := &cobra.Command{
		Use:   "scan IMAGE...",
		Short: "Scan images, archives or directories for secrets",
		Long:  scanLong,
		Example: `  peel scan prabath/insecure-sts-ch10:v1
  peel scan docker-archive:sts-v1.tar --format json
  peel scan dir:config/`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && o.many.fromFile == "" {
				return errors.New("requires at least 1 arg(s): an IMAGE (or --from-file)")
			}
			return nil
		},
		RunE:              func(cmd *cobra.Command, args []string) error { return runScan(cmd, o, args) },
		ValidArgsFunction: completeInput,
	}
	f := cmd.Flags()
	f.StringVarP(&o.format, "format", "f", "table", "report format: "+strings.Join(report.Formats(), ", ")+" (any case)")
	f.StringArrayVarP(&o.outputs, "output", "o", nil, "write the report to FILE instead of stdout, or FORMAT=FILE to add one (repeatable; FORMAT=- puts that format on stdout instead of --format); a regular file is replaced atomically, anything else (/dev/null, a FIFO) written into")
	f.StringVar(&o.ignoreFile, "ignore-file", "", "ignore file of finding fingerprints and location globs (default: .peelignore in the working directory, if any)")
	f.StringVar(&o.baseline, "baseline", "", "an earlier peel JSON report: report and fail only on findings not in it")
	f.StringVar(&o.fpKeyEnv, "fingerprint-key-env", defaultFingerprintKeyEnv, "environment variable holding a fingerprint key (at least 16 bytes): when it is set, fingerprints are HMACs of each finding's place and secret under it, so a rotated value is a new finding; otherwise they hash the place alone")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress and no summary on stderr")
	f.StringVar(&o.failOn, "fail-on", "low", "exit 1 (--exit-code) when a finding is at or above this severity: critical, high, medium, low, none")
	f.StringSliceVar(&o.severities, "severity", nil, "report only findings of these severities (comma-separated: critical,high); the others are left out of every report and not failed on (default: all)")
	f.IntVar(&o.exitCode, "exit-code", exitFindings, "exit status when findings reach --fail-on (0: findings never fail the run)")
	f.StringSliceVar(&o.scan.SkipFiles, "skip-files", nil, "globs of files not to read at all, as locations show them (comma-separated or repeated: '**/*.min.js', /opt/vendor/big.jar); * stays in a path segment, ** crosses them and archive members")
	f.StringSliceVar(&o.scan.SkipDirs, "skip-dirs", nil, "globs of directories not to read at all, in layers, archives and dir: inputs (/usr/share/doc, '**/node_modules')")
	f.BoolVar(&o.showSecrets, "show-secrets", false, "print secrets in full instead of redacted")
	f.StringVar(&o.platform, "platform", "linux/amd64", "platform to pick from a multi-platform image: os/arch[/variant]")
	f.BoolVar(&o.allPlat, "all-platforms", false, "scan every image of a multi-platform index, each reported separately")
	f.BoolVar(&o.foreign, "allow-foreign-layers", false, "fetch a layer the registry does not serve from the URLs its manifest names (foreign layers); by default the scan stops there")
	f.StringArrayVar(&o.mirrors, "registry-mirror", nil, "HOST[:PORT] to pull Docker Hub images from first, falling back to Docker Hub, as dockerd's registry-mirrors (repeatable)")
	f.StringVar(&o.caFile, "ca-file", "", "PEM file of certificate authorities to trust for registry TLS, besides the system's")
	f.StringArrayVar(&o.insecure, "insecure-registry", nil, "HOST[:PORT] to reach over plain HTTP or unverified TLS; that host only (repeatable)")
	f.StringVarP(&o.username, "username", "u", "", "user name for the registry the image is pulled from (with --password-stdin)")
	f.BoolVar(&o.passStdin, "password-stdin", false, "read that registry's password from standard input")
	f.StringVar(&o.config, "config", "", "gitleaks config (.gitleaks.toml) to use instead of gitleaks' default rules; [extend] useDefault = true keeps them")
	f.BoolVar(&o.noGitleaks, "no-gitleaks", false, "run peel's own detectors only, without gitleaks' rule catalogue")
	f.BoolVar(&o.scan.Explain, "explain", false, "list what was looked at and dismissed (placeholders, labels, trust stores, …) and why")
	f.BoolVar(&o.scan.IncludeDependencyTests, "include-dependency-tests", false, "report findings in the test resources of third-party code (test/, tests/, fixtures/, testdata/, examples/, *_test.go, … of bundled jars, Python packages, node_modules, Go trees and modules, gems, software under /usr)")
	f.StringVar(&o.cacheDir, "cache-dir", defaultCacheDir(), "directory of cached layer results (keyed by verified layer digest, walker and ruleset versions and the options that change results), encrypted with the key in $PEEL_CACHE_KEY or ~/.config/peel/cache-key; refused if another user owns it or others may write it")
	f.BoolVar(&o.noCache, "no-cache", false, "do not read or write the layer cache")
	f.DurationVar(&o.timeout, "timeout", defaultTimeout, "longest a whole run may take (registry pulls, scanning, writing the reports); past it peel stops with exit status 2, naming the registry it was waiting on")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a Go CPU profile of the scan to FILE (for developers)")
	_ = f.MarkHidden("cpuprofile")
	f.IntVar(&o.scan.MaxDepth, "max-depth", scanner.DefaultMaxDepth, "how many archives deep to open")
	f.Int64Var(&o.scan.MaxFileSize, "max-file-size", scanner.DefaultMaxFileSize, "how much of a text file to scan, in bytes (a larger file is scanned up to it, and the cut reported)")
	f.Int64Var(&o.scan.MaxArchiveSize, "max-archive-size", scanner.DefaultMaxArchiveSize, "largest nested archive to open, in bytes")
	f.Int64Var(&o.scan.MaxTotalInflate, "max-total-inflate", scanner.DefaultMaxTotalInflate, "most bytes to decompress in one scan, layers and nested archives together")
	f.Int64Var(&o.scan.MaxRatio, "max-ratio", scanner.DefaultMaxRatio, "highest compression ratio (uncompressed:compressed) of a layer stream or archive member, checked past 16 MiB")
	f.IntVar(&o.scan.MaxEntries, "max-entries", scanner.DefaultMaxEntries, "most members to read from one archive")
	addManyFlags(f, &o.many)
	registerCompletions(cmd)
	o.signatures.register(f)
	return cmd
}

func runScan(cmd *cobra.Command, o *scanOptions, args []string) error {
	label := func(name string) string { return flagLabel(cmd, name) }
	outs, err := parseOutputs(o.format, cmd.Flags().Changed("format"), o.outputs)
	if err != nil {
		return err
	}
	failOn, err := rules.ParseSeverity(o.failOn)
	if err != nil {
		return fmt.Errorf("bad flag: %s: %w", label("fail-on"), err)
	}
	var severities []rules.Severity
	for _, s := range o.severities {
		sev, err := rules.ParseSeverity(s)
		if err != nil || sev == rules.SeverityNone {
			return fmt.Errorf("bad flag: %s: unknown severity %q (want critical, high, medium or low)", label("severity"), s)
		}
		severities = append(severities, sev)
	}
	if o.exitCode < 0 || o.exitCode > 125 || o.exitCode == exitError {
		return fmt.Errorf("bad flag: %s %d: want 0 to 125, not %d (which says an error)", label("exit-code"), o.exitCode, exitError)
	}
	platform, err := v1.ParsePlatform(o.platform)
	if err != nil || platform.OS == "" || platform.Architecture == "" {
		return fmt.Errorf("bad flag: %s %q: want os/arch[/variant]", label("platform"), o.platform)
	}
	if o.timeout <= 0 {
		return fmt.Errorf("bad flag: %s must be positive", label("timeout"))
	}
	if err := scanner.CheckSkipGlobs(o.scan.SkipFiles, o.scan.SkipDirs); err != nil {
		return fmt.Errorf("bad flag: %w", err)
	}
	if err := checkOutputs(outs); err != nil {
		return err
	}
	var log *slog.Logger
	if o.global.debug {
		log = newDebugLogger(cmd.ErrOrStderr())
		o.scan.Logger = log
		logSettings(cmd, log)
	}
	if o.scan.MaxDepth < 1 || o.scan.MaxFileSize < 1 || o.scan.MaxArchiveSize < 1 || o.scan.MaxTotalInflate < 1 || o.scan.MaxRatio < 1 || o.scan.MaxEntries < 1 {
		return errors.New("bad flag: the --max-* limits must be positive")
	}

	engineOpts := rules.EngineOptions{NoGitleaks: o.noGitleaks}
	if o.config != "" {
		if o.noGitleaks {
			return errors.New("bad flag: --config and --no-gitleaks exclude each other")
		}
		b, err := os.ReadFile(o.config)
		if err != nil {
			return fmt.Errorf("bad flag: --config: %w", err)
		}
		engineOpts.GitleaksConfig = b
	}
	engine, err := rules.NewEngine(engineOpts)
	if err != nil {
		return fmt.Errorf("%s: %w", o.config, err)
	}
	o.scan.Engine = engine
	if err := o.signatures.apply(&o.scan); err != nil {
		return err
	}
	cacheCtx, cancelCache := context.WithTimeout(cmd.Context(), 30*time.Second)
	var closeCache func()
	if o.many.cacheURL != "" && o.noCache {
		// The command line wins over the environment and the config
		// file; set at the same level, the two contradict each other.
		cacheCLI, noCacheCLI := flagLabel(cmd, "cache") == "--cache", flagLabel(cmd, "no-cache") == "--no-cache"
		switch {
		case noCacheCLI && !cacheCLI:
			o.many.cacheURL = ""
		case cacheCLI && !noCacheCLI:
			o.noCache = false
		default:
			cancelCache()
			return fmt.Errorf("bad flag: %s and %s exclude each other", flagLabel(cmd, "cache"), flagLabel(cmd, "no-cache"))
		}
	}
	o.scan.Cache, closeCache, err = o.many.layerCache(cacheCtx, o.noCache, o.cacheDir)
	cancelCache()
	if err != nil {
		return err
	}
	defer closeCache()
	o.scan.Share = scanner.NewShare(shareMemory(o.scan.Cache))

	srcOpts := scanner.SourceOptions{Platform: platform, Mirrors: o.mirrors, Insecure: o.insecure, AllPlatforms: o.allPlat, AllowForeignLayers: o.foreign, Logger: log}
	if srcOpts.Transport, srcOpts.Credentials, err = registryAccess(o, cmd.InOrStdin()); err != nil {
		return err
	}
	if log != nil {
		srcOpts.Transport = debugTransport{next: srcOpts.Transport, log: log}
	}

	// Spill files and unpacked archives live in a private directory that
	// is removed however the scan ends, made where no one else can move
	// it.
	tmp, err := privateTempDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	o.scan.TempDir = tmp

	ropts := report.Options{ToolVersion: toolVersion(), ShowSecrets: o.showSecrets, Severities: severities}
	if ropts.FingerprintKey, err = fingerprintKey(o.fpKeyEnv, cmd.Flags().Changed("fingerprint-key-env")); err != nil {
		return err
	}
	if ropts.Ignore, err = loadIgnoreFile(o.ignoreFile); err != nil {
		return err
	}
	if log != nil && ropts.Ignore != nil {
		log.Debug("ignore file", "file", ropts.Ignore.Name)
	}
	if o.baseline != "" {
		f, err := os.Open(o.baseline)
		if err != nil {
			return fmt.Errorf("bad flag: --baseline: %w", err)
		}
		ropts.Baseline, err = report.LoadBaseline(o.baseline, f, ropts.FingerprintKey)
		f.Close()
		if err != nil {
			return err
		}
	}

	if o.cpuProfile != "" {
		pf, err := os.Create(o.cpuProfile)
		if err != nil {
			return fmt.Errorf("bad flag: --cpuprofile: %w", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithTimeoutCause(cmd.Context(), o.timeout, errTimedOut)
	defer cancel()
	var progress *progress
	if !o.global.debug { // a log and a line redrawn in place do not mix
		progress = newProgress(os.Stderr, o.quiet || o.many.many())
	}
	if progress != nil {
		o.scan.Progress = progress
		defer progress.stop()
	}
	skip := scanner.SkipFunc(o.scan.SkipFiles, o.scan.SkipDirs)
	sc := scanner.New(o.scan)
	start := time.Now()
	var results []*scanner.Result
	one := args // scanned one by one below; the first failure ends the run
	if o.many.many() {
		one = nil
		inputs, err := o.many.inputs(ctx, args, cmd.InOrStdin(), srcOpts)
		if err != nil {
			return o.failure(ctx, "", err)
		}
		if results, err = scanMany(ctx, o, sc, srcOpts, inputs); err != nil {
			return o.failure(ctx, "", err)
		}
	}
	for i, input := range one {
		if progress != nil {
			progress.start(input, i+1, len(one))
		}
		targets, err := scanner.OpenAll(ctx, input, srcOpts)
		if err != nil {
			return o.failure(ctx, input, err)
		}
		for _, t := range targets {
			if log != nil {
				log.Debug("input", "arg", input, "kind", t.Kind, "ref", t.Ref, "digest", t.Digest, "path", t.Path)
			}
			if progress != nil {
				progress.target(t, i+1, len(args), skip)
			}
			res, err := sc.Scan(ctx, t)
			t.Close()
			if err != nil {
				return o.failure(ctx, t.Input, fmt.Errorf("%s: %w", t.Input, err))
			}
			if progress != nil {
				progress.finish(res)
			}
			results = append(results, res)
		}
	}
	if err := ctx.Err(); err != nil {
		return o.failure(ctx, "", err)
	}
	ropts.Duration = time.Since(start)
	if progress != nil {
		progress.stop()
	}
	rep := report.Build(results, ropts)
	table := tableOptions(cmd.OutOrStdout(), o.global.noColor)
	if log != nil {
		log.Debug("table", "width", table.Width, "color", table.Color)
	}
	if err := writeOutputs(ctx, outs, rep, cmd.OutOrStdout(), o.showSecrets, table); err != nil {
		return o.failure(ctx, "", err)
	}
	tableOnStdout := false
	for _, out := range outs {
		tableOnStdout = tableOnStdout || out.file == "" && out.format == "table"
	}
	if !o.quiet && !tableOnStdout {
		fmt.Fprintln(cmd.ErrOrStderr(), report.SummaryLine(rep))
	}
	if n := failedImages(results); n > 0 {
		return errImagesFailed(n)
	}
	if failOn != rules.SeverityNone && rep.MaxSeverity() >= failOn && o.exitCode != exitClean {
		return findingsError{code: o.exitCode}
	}
	return nil
}

// tableOptions fit the table on stdout to the terminal it is, if it is
// one: its width, and colour unless --no-color, NO_COLOR or TERM=dumb.
// Not a terminal, COLUMNS gives a width if set; else the table is laid out
// for a log, unwrapped.
func tableOptions(stdout io.Writer, noColor bool) report.TableOptions {
	var o report.TableOptions
	if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil {
			o.Width = w
		}
		o.Color = !noColor && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
	}
	if o.Width == 0 {
		if w, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && w > 0 {
			o.Width = w
		}
	}
	return o
}

// logSettings says, with --debug, which flags the environment or the
// config file set (their names, never their values).
func logSettings(cmd *cobra.Command, log *slog.Logger) {
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if o := f.Annotations[originAnnotation]; len(o) > 0 {
			log.Debug("flag set", "flag", "--"+f.Name, "from", o[0])
		}
	})
}

// defaultTimeout bounds a whole run: generous for a large image over a
// slow link, short of a CI job's own limit.
const defaultTimeout = 10 * time.Minute

// errTimedOut is the cause of the run's context ending at --timeout.
var errTimedOut = errors.New("timed out")

// failure is what peel says of an error: past --timeout, that the run
// timed out and which registry it was waiting on for what; otherwise the
// error with advice on the flags that address it (library messages name
// no flags).
func (o *scanOptions) failure(ctx context.Context, input string, err error) error {
	if errors.Is(context.Cause(ctx), errTimedOut) {
		msg := fmt.Sprintf("timed out: the run took longer than --timeout %s", o.timeout)
		if input != "" {
			msg = input + ": " + msg
		}
		var ne *scanner.NetError
		if errors.As(err, &ne) {
			msg += fmt.Sprintf(", waiting on %s (%s)", ne.Host, ne.Phase)
		}
		return &adviceError{msg: msg, err: err}
	}
	var refErr *scanner.ReferenceError
	if errors.As(err, &refErr) && refErr.Scheme == "http" && refErr.Host != "" {
		return &adviceError{msg: fmt.Sprintf("%v; for plain HTTP, add --insecure-registry %s", err, refErr.Host), err: err}
	}
	var fe *scanner.ForeignLayerError
	if errors.As(err, &fe) {
		return &adviceError{msg: err.Error() + " (--allow-foreign-layers fetches it)", err: err}
	}
	var re *scanner.RegistryError
	if errors.As(err, &re) && scanner.DockerHubImplied(input) && o.username == "" &&
		(re.Kind == scanner.FailNotFound || re.Kind == scanner.FailAuth || re.Kind == scanner.FailDenied) {
		// Docker Hub answers 401 for a repository that does not exist:
		// the name may as well be a mistyped path.
		ref := input
		if r, perr := name.ParseReference(input); perr == nil {
			ref = strings.Replace(r.Name(), name.DefaultRegistry+"/", "docker.io/", 1)
		}
		return &adviceError{msg: fmt.Sprintf("%s: %v: not a local path, nor an image Docker Hub serves (%s: %s)", input, scanner.ErrNoSuchFileOrImage, ref, re.Msg), err: err}
	}
	if errors.As(err, &re) {
		switch re.Kind {
		case scanner.FailAuth:
			return &adviceError{msg: err.Error() + ": check the credentials (DOCKER_CONFIG, or --username with --password-stdin)", err: err}
		case scanner.FailUnknownCA:
			return &adviceError{msg: fmt.Sprintf("%v (pass its CA with --ca-file, or --insecure-registry %s)", err, re.Host), err: err}
		case scanner.FailTLS:
			return &adviceError{msg: fmt.Sprintf("%v (pass --ca-file, or --insecure-registry %s)", err, re.Host), err: err}
		}
	}
	return err
}

// adviceError is an error told another way, its cause kept.
type adviceError struct {
	msg string
	err error
}

func (e *adviceError) Error() string { return e.msg }
func (e *adviceError) Unwrap() error { return e.err }

// registryAccess builds the registry transport (extra CAs, insecure hosts,
// retries) and reads --password-stdin. The password is never printed.
func registryAccess(o *scanOptions, stdin io.Reader) (http.RoundTripper, *authn.Basic, error) {
	topts := scanner.TransportOptions{Insecure: o.insecure}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, nil, fmt.Errorf("bad flag: --ca-file: %w", err)
		}
		topts.CAPEM = pem
	}
	rt, err := scanner.NewTransport(topts)
	if err != nil {
		return nil, nil, fmt.Errorf("bad flag: --ca-file %s: %w", o.caFile, err)
	}
	switch {
	case o.passStdin && o.username == "":
		return nil, nil, errors.New("bad flag: --password-stdin needs --username")
	case o.username != "" && !o.passStdin:
		return nil, nil, errors.New("bad flag: --username needs --password-stdin (a password on the command line would land in shell history and process lists)")
	case o.username == "":
		return rt, nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(stdin, 64<<10))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the password from standard input: %w", err)
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return nil, nil, errors.New("bad flag: --password-stdin: standard input is empty")
	}
	return rt, &authn.Basic{Username: o.username, Password: pw}, nil
}

// defaultFingerprintKeyEnv is where the fingerprint key is read from when
// --fingerprint-key-env does not name another variable.
const defaultFingerprintKeyEnv = "PEEL_FINGERPRINT_KEY"

// fingerprintKey reads the fingerprint key from the environment variable
// name. Unset, it means fingerprints by location, unless the variable was
// named explicitly (a CI secret that did not arrive is an error, not a
// silent change of mode). The key itself is never printed.
func fingerprintKey(name string, explicit bool) ([]byte, error) {
	if name == "" {
		return nil, errors.New("bad flag: --fingerprint-key-env: no variable named")
	}
	v := os.Getenv(name)
	switch {
	case v == "" && explicit:
		return nil, fmt.Errorf("bad flag: --fingerprint-key-env %s: the variable is not set or empty", name)
	case v == "":
		return nil, nil
	case len(v) < report.MinFingerprintKey:
		return nil, fmt.Errorf("bad flag: --fingerprint-key-env %s: the key has %d bytes; use at least %d random ones (openssl rand -hex 32)", name, len(v), report.MinFingerprintKey)
	}
	return []byte(v), nil
}

// defaultCacheDir is peel's directory under the user cache directory
// ($XDG_CACHE_HOME or ~/.cache on Linux), or none when there is none.
func defaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "peel", "layers")
}

// cacheKeyEnv holds the layer cache's key when set (a CI secret shared by
// the runners of one cache); otherwise the key is kept in cacheKeyFile
// under the user config directory, made on first use.
const (
	cacheKeyEnv  = "PEEL_CACHE_KEY"
	cacheKeyFile = "cache-key"
)

// openCache opens the layer cache in dir, its entries sealed with the key
// from PEEL_CACHE_KEY or the user's key file. A directory or key file that
// is not private is refused.
func openCache(dir string) (scanner.LayerCache, error) {
	d, err := cache.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("cache directory: %w", advise(err, "pass --cache-dir with a directory of your own, or --no-cache"))
	}
	key, err := cacheKey(false)
	if err != nil {
		return nil, err
	}
	return cache.Seal(d, key), nil
}

// cacheKey is the key that seals the layer cache: PEEL_CACHE_KEY when set,
// otherwise the user's key file, made on first use. A shared cache (shared
// true: Redis) takes the key from PEEL_CACHE_KEY only, so that every
// machine sharing it seals with the same key, and none reads it without.
func cacheKey(shared bool) (*cache.Key, error) {
	if v := os.Getenv(cacheKeyEnv); v != "" {
		key, err := cache.NewKey([]byte(v))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cacheKeyEnv, err)
		}
		return key, nil
	}
	if shared {
		return nil, fmt.Errorf("--cache: %s is not set: a shared cache holds the secrets found, sealed with the key every peel using it is given there (e.g. openssl rand -hex 32, kept as a CI secret)", cacheKeyEnv)
	}
	cfg, err := os.UserConfigDir()
	if err != nil {
		return nil, fmt.Errorf("cache key: no user config directory to keep it in (%v): set %s, or pass --no-cache", err, cacheKeyEnv)
	}
	key, err := cache.LoadKey(filepath.Join(cfg, "peel", cacheKeyFile))
	if err != nil {
		return nil, fmt.Errorf("cache key: %w", err)
	}
	return key, nil
}

// advise adds what to do to a refusal of a directory or file that is not
// private; other errors are left as they are.
func advise(err error, fix string) error {
	var pe *privdir.Error
	if !errors.As(err, &pe) {
		return err
	}
	e := *pe
	if e.Fix != "" {
		fix = e.Fix + ", or " + fix
	}
	e.Fix = fix
	return &e
}

// defaultIgnoreFile is read from the working directory when --ignore-file
// is not given.
const defaultIgnoreFile = ".peelignore"

func loadIgnoreFile(name string) (*report.IgnoreFile, error) {
	explicit := name != ""
	if !explicit {
		name = defaultIgnoreFile
	}
	f, err := os.Open(name)
	if err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("bad flag: --ignore-file: %w", err)
	}
	defer f.Close()
	return report.ParseIgnoreFile(name, f)
}
