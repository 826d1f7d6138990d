package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"

	"github.com/peelscan/peel/scanner"
	"github.com/peelscan/peel/scanner/cache"
	"github.com/peelscan/peel/scanner/cache/rediscache"
	"github.com/peelscan/peel/scanner/fleet"
)

// manyFlags are the flags of runs over many images: what names them
// (--all-tags, --from-file, a tag filter and limit) and the shared layer
// cache in Redis.
type manyFlags struct {
	allTags     bool
	fromFile    string
	tags        string
	maxTags     int
	cacheURL    string
	redisCAFile string
	cacheTTL    time.Duration
}

// addListFlags registers the flags that name a run's images.
func addListFlags(f *pflag.FlagSet, m *manyFlags) {
	f.BoolVar(&m.allTags, "all-tags", false, "each IMAGE is a repository (HOST/REPO) whose every tag is scanned, or a registry (HOST) whose every repository, from its catalog, is")
	f.StringVar(&m.fromFile, "from-file", "", "read more IMAGEs from FILE, one a line (- for standard input; # comments and blank lines skipped)")
	f.StringVar(&m.tags, "tags", "", "with --all-tags, only tags matching this glob (* ? [a-z])")
	f.IntVar(&m.maxTags, "max-tags", 0, "with --all-tags, at most this many tags per repository, the first in lexical order (0: all)")
}

// addCacheFlags registers the flags of the Redis layer cache.
func addCacheFlags(f *pflag.FlagSet, m *manyFlags) {
	f.StringVar(&m.cacheURL, "cache", "", "keep layer results in Redis, shared by every peel that names it and sealed with the key in $PEEL_CACHE_KEY (required): redis://[USER[:PASSWORD]@]HOST:PORT/DB or rediss:// (TLS); a password left out of the URL is read from "+redisPasswordEnv)
	f.StringVar(&m.redisCAFile, "redis-ca-file", "", "PEM file of certificate authorities to trust for rediss:// (the cache's and the queue's), besides the system's")
	f.DurationVar(&m.cacheTTL, "cache-ttl", rediscache.DefaultTTL, "how long a layer result stays in the Redis cache")
}

// addManyFlags registers every flag of runs over many images.
func addManyFlags(f *pflag.FlagSet, m *manyFlags) {
	addListFlags(f, m)
	addCacheFlags(f, m)
}

// many says whether the run names its images by listing (a repository's
// tags, a catalog, a file): then an image that fails is an error entry in
// the report and the run goes on.
func (m *manyFlags) many() bool { return m.allTags || m.fromFile != "" }

// redisPasswordEnv holds the Redis password when the URL names none, so
// that it stays out of process lists.
const redisPasswordEnv = "PEEL_REDIS_PASSWORD"

// redisClient connects to a Redis URL (the value of flag), with the CA
// file's authorities for rediss://.
// quietRedis drops go-redis's own log lines (a failed dial is printed
// once per attempt on stderr); what fails reaches the user as the one-line
// error of the command, and --debug logs through peel's logger.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func init() { goredis.SetLogger(quietRedis{}) }

func redisClient(flag, url, caFile string) (*goredis.Client, error) {
	var ca []byte
	if caFile != "" {
		b, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("bad flag: --redis-ca-file: %w", err)
		}
		ca = b
	}
	o, err := fleet.RedisOptions(url, ca)
	if err != nil {
		return nil, fmt.Errorf("bad flag: --%s: %w", flag, err)
	}
	if o.Password == "" {
		o.Password = os.Getenv(redisPasswordEnv)
	}
	return goredis.NewClient(o), nil
}

// layerCache is the layer cache a command reads and writes: Redis with
// --cache, else the directory store unless noCache. closeFn releases it.
func (m *manyFlags) layerCache(ctx context.Context, noCache bool, dir string) (c scanner.LayerCache, closeFn func(), err error) {
	closeFn = func() {}
	switch {
	case m.cacheURL != "" && noCache:
		return nil, nil, errors.New("bad flag: --cache and --no-cache exclude each other")
	case m.cacheURL != "":
		key, err := cacheKey(true)
		if err != nil {
			return nil, nil, err
		}
		rdb, err := redisClient("cache", m.cacheURL, m.redisCAFile)
		if err != nil {
			return nil, nil, err
		}
		if err := rdb.Ping(ctx).Err(); err != nil {
			rdb.Close()
			return nil, nil, fmt.Errorf("--cache: cannot reach Redis at %s: %w", rdb.Options().Addr, err)
		}
		// The entries hold the secrets found: sealed as the directory's are.
		return cache.Seal(rediscache.New(rdb, rediscache.Options{TTL: m.cacheTTL}), key), func() { rdb.Close() }, nil
	case !noCache && dir != "":
		c, err := openCache(dir)
		return c, closeFn, err
	default:
		return nil, closeFn, nil
	}
}

// inputs lists the run's images: the arguments and the lines of
// --from-file, each, with --all-tags, a repository or a registry to list.
func (m *manyFlags) inputs(ctx context.Context, args []string, stdin io.Reader, src scanner.SourceOptions) ([]string, error) {
	in := append([]string(nil), args...)
	if m.fromFile != "" {
		lines, err := readList(m.fromFile, stdin)
		if err != nil {
			return nil, err
		}
		in = append(in, lines...)
	}
	if !m.allTags {
		if m.tags != "" || m.maxTags != 0 {
			return nil, errors.New("bad flag: --tags and --max-tags go with --all-tags")
		}
		return in, nil
	}
	if m.maxTags < 0 {
		return nil, errors.New("bad flag: --max-tags must not be negative")
	}
	var out []string
	for _, target := range in {
		refs, err := scanner.ListImages(ctx, target, scanner.ListOptions{Tags: m.tags, MaxTags: m.maxTags}, src)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", target, err)
		}
		out = append(out, refs...)
	}
	return out, nil
}

// maxListLine bounds a line of --from-file.
const maxListLine = 64 << 10

func readList(name string, stdin io.Reader) ([]string, error) {
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("bad flag: --from-file: %w", err)
		}
		defer f.Close()
		r = f
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxListLine)
	var out []string
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--from-file %s: %w", name, err)
	}
	return out, nil
}

// imagesAtOnce is how many images a run over many scans together; the
// layers they read at once are bounded by the scanner's Parallelism.
const imagesAtOnce = 4

// scanMany scans the run's images, several at once, sharing their layers
// through the scanner's Share. An image that cannot be opened or scanned
// becomes a result with its Error set, and the others go on; the run
// stops only when ctx ends. Results keep the inputs' order.
func scanMany(ctx context.Context, o *scanOptions, sc *scanner.Scanner, src scanner.SourceOptions, inputs []string) ([]*scanner.Result, error) {
	per := make([][]*scanner.Result, len(inputs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(imagesAtOnce)
	var mu sync.Mutex
	for i, input := range inputs {
		g.Go(func() error {
			fail := func(name string, err error) {
				var ie *scanner.InputError
				if errors.As(err, &ie) && ie.Input == name {
					err = ie.Err // the entry names the input already
				}
				mu.Lock()
				defer mu.Unlock()
				per[i] = append(per[i], &scanner.Result{Input: name, Kind: kindOf(input), Error: o.failure(gctx, name, err).Error()})
			}
			targets, err := scanner.OpenAll(gctx, input, src)
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				fail(input, err)
				return nil
			}
			for _, t := range targets {
				res, err := sc.Scan(gctx, t)
				t.Close()
				if gctx.Err() != nil {
					return gctx.Err()
				}
				if err != nil {
					fail(t.Input, err)
					continue
				}
				mu.Lock()
				per[i] = append(per[i], res)
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []*scanner.Result
	for _, rs := range per {
		out = append(out, rs...)
	}
	return out, nil
}

// kindOf is the source kind an input names, for an error entry.
func kindOf(input string) string {
	if k, _, ok := strings.Cut(input, ":"); ok {
		switch k {
		case scanner.KindDockerArchive, scanner.KindOCI, scanner.KindOCIArchive, scanner.KindDaemon, scanner.KindDir:
			return k
		}
	}
	return scanner.KindRegistry
}

// errImagesFailed ends a run in which some images could not be scanned;
// the report, with an error entry for each, has been written.
type errImagesFailed int

func (e errImagesFailed) Error() string {
	return fmt.Sprintf("%d image(s) could not be scanned: see their error entries in the report", int(e))
}

// failedImages counts the results that are error entries.
func failedImages(results []*scanner.Result) int {
	n := 0
	for _, r := range results {
		if r.Error != "" {
			n++
		}
	}
	return n
}

// shareMemory is how much of the run's layer results the Share keeps in
// memory for later images: none with a layer cache (later images find
// them there), else up to 256 MiB.
func shareMemory(c scanner.LayerCache) int64 {
	if c != nil {
		return 0
	}
	return 256 << 20
}
