package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/hibiken/asynq"

	"github.com/peelscan/peel/scanner"
)

// WorkerConfig says how a worker scans: its registry access (credentials,
// TLS, mirrors: its own, never the queue's), the shared layer cache, and
// how many tasks it runs at once.
type WorkerConfig struct {
	// Concurrency is how many tasks run at once (default 1).
	Concurrency int
	// Source is the worker's registry access; the run's spec sets the
	// platform and foreign-layer choices.
	Source scanner.SourceOptions
	// Cache is the layer cache every worker of the queue shares.
	Cache scanner.LayerCache
	// TempDir holds the scans' spill files.
	TempDir string
	// Log, if set, is told of every task done, with the counters so far.
	Log func(format string, args ...any)
	// Warn is told of asynq's warnings and errors (default: stderr).
	Warn func(msg string)
}

// Counters are a worker's progress.
type Counters struct {
	ImageTasks int64 // image tasks done
	LayerTasks int64 // layer tasks done
	Failed     int64 // task attempts that failed
	LayersRead int64 // layers read from their registry
	CacheHits  int64 // layers found in the layer cache
}

func (c Counters) String() string {
	return fmt.Sprintf("%d task(s) done (%d image, %d layer), %d failed; %d layer(s) read, %d from the cache",
		c.ImageTasks+c.LayerTasks, c.ImageTasks, c.LayerTasks, c.Failed, c.LayersRead, c.CacheHits)
}

type counters struct{ images, layers, failed, read, hits atomic.Int64 }

func (c *counters) snapshot() Counters {
	return Counters{ImageTasks: c.images.Load(), LayerTasks: c.layers.Load(), Failed: c.failed.Load(), LayersRead: c.read.Load(), CacheHits: c.hits.Load()}
}

type worker struct {
	q   *Queue
	cfg WorkerConfig
	n   counters

	mu       sync.Mutex
	scanners map[string]*scanner.Scanner // by spec
}

// Work processes the queue's tasks until ctx ends, then shuts down,
// giving running tasks a few seconds to finish (those that do not go back
// on the queue), and returns the worker's counters.
func (q *Queue) Work(ctx context.Context, cfg WorkerConfig) (Counters, error) {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.Cache == nil {
		return Counters{}, errors.New("a worker needs the shared layer cache")
	}
	if cfg.Warn == nil {
		cfg.Warn = func(msg string) { fmt.Fprintln(os.Stderr, msg) }
	}
	w := &worker{q: q, cfg: cfg, scanners: map[string]*scanner.Scanner{}}
	srv := asynq.NewServerFromRedisClient(q.rdb, asynq.Config{
		Concurrency:     cfg.Concurrency,
		Queues:          map[string]int{q.name: 1},
		Logger:          asynqLogger{warn: cfg.Warn},
		LogLevel:        asynq.WarnLevel,
		ShutdownTimeout: 10 * time.Second,
		RetryDelayFunc:  retryDelay,
		// Quiet unless asked; a missing task stays visible in Results.
		ErrorHandler: asynq.ErrorHandlerFunc(func(_ context.Context, t *asynq.Task, err error) {
			w.n.failed.Add(1)
			w.log("task %s failed: %v", t.Type(), err)
		}),
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeImage, w.image)
	mux.HandleFunc(TypeLayer, w.layer)
	if err := srv.Start(mux); err != nil {
		return Counters{}, fmt.Errorf("starting the worker: %w", err)
	}
	<-ctx.Done()
	srv.Shutdown()
	return w.n.snapshot(), nil
}

// retryDelay waits 1s, 2s, 4s … (at most 30s) before a task is tried
// again; asynq's default waits far longer.
func retryDelay(n int, _ error, _ *asynq.Task) time.Duration {
	return min(time.Duration(1<<min(n, 5))*time.Second, 30*time.Second)
}

func (w *worker) log(format string, args ...any) {
	if w.cfg.Log != nil {
		w.cfg.Log(format+" ["+w.n.snapshot().String()+"]", args...)
	}
}

// scanner returns the worker's scanner for a run's spec, and the source
// options the spec sets.
func (w *worker) scanner(spec Spec) (*scanner.Scanner, scanner.SourceOptions, error) {
	src := w.cfg.Source
	src.AllPlatforms, src.AllowForeignLayers = spec.AllPlatforms, spec.AllowForeignLayers
	p, err := v1.ParsePlatform(cmpOr(spec.Platform, "linux/amd64"))
	if err != nil {
		return nil, src, fmt.Errorf("platform %q: %w", spec.Platform, err)
	}
	src.Platform = p
	w.mu.Lock()
	defer w.mu.Unlock()
	h := spec.hash()
	if sc := w.scanners[h]; sc != nil {
		return sc, src, nil
	}
	sc, err := NewScanner(spec, w.cfg.Cache, w.cfg.TempDir)
	if err != nil {
		return nil, src, err
	}
	w.scanners[h] = sc
	return sc, src, nil
}

// NewScanner is the scanner a run's spec asks for, on cache.
func NewScanner(spec Spec, cache scanner.LayerCache, tempDir string) (*scanner.Scanner, error) {
	engine, err := spec.Engine()
	if err != nil {
		return nil, fmt.Errorf("the run's rules: %w", err)
	}
	return scanner.New(scanner.Options{ResultOptions: spec.Result, MaxTotalInflate: spec.MaxTotalInflate,
		Cache: cache, Engine: engine, TempDir: tempDir}), nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// permanent marks failures that fail the same way when tried again, so
// that asynq archives the task at once.
func permanent(err error) error {
	var re *scanner.RegistryError
	var ie *scanner.InputError
	if errors.As(err, &re) {
		switch re.Kind {
		case scanner.FailStalled, scanner.FailRateLimited, scanner.FailOther:
			return err
		}
		return fmt.Errorf("%w (%w)", err, asynq.SkipRetry)
	}
	if errors.As(err, &ie) || errors.Is(err, context.Canceled) {
		return err
	}
	msg := err.Error()
	if strings.Contains(msg, "malformed image") || strings.Contains(msg, "does not match") || strings.Contains(msg, "refused") {
		return fmt.Errorf("%w (%w)", err, asynq.SkipRetry)
	}
	return err
}

func (w *worker) image(ctx context.Context, t *asynq.Task) error {
	start := time.Now()
	var p imageTask
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("image task payload: %v: %w", err, asynq.SkipRetry)
	}
	sc, src, err := w.scanner(p.Spec)
	if err != nil {
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
	}
	targets, err := scanner.OpenAll(ctx, p.Input, src)
	if err != nil {
		return permanent(err)
	}
	var out imageOutcome
	queued, cached := 0, 0
	for _, tg := range targets {
		plan, err := sc.PlanImage(ctx, tg)
		tg.Close()
		if err != nil {
			return permanent(fmt.Errorf("%s: %w", tg.Input, err))
		}
		pinned, err := pin(tg)
		if err != nil {
			return fmt.Errorf("%s: %v: %w", tg.Input, err, asynq.SkipRetry)
		}
		for _, l := range plan.Layers {
			if l.Cached {
				cached++
				w.n.hits.Add(1)
				continue
			}
			if err := w.enqueueLayer(ctx, layerTask{Run: p.Run, Ref: pinned, Number: l.Number, Key: l.Key, Spec: p.Spec}); err != nil {
				return err
			}
			queued++
		}
		out.Plans = append(out.Plans, plan)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	if _, err := t.ResultWriter().Write(b); err != nil {
		return fmt.Errorf("writing the image's plan: %w", err)
	}
	w.n.images.Add(1)
	w.log("image %s: %d layer(s) in the cache, %d queued (%.1fs)", p.Input, cached, queued, time.Since(start).Seconds())
	return nil
}

// pin names a target's image by its manifest digest, so that a layer
// task reads the image its plan was made from, whatever the tag says by
// then.
func pin(t *scanner.Target) (string, error) {
	if t.Ref == "" || t.Digest == "" {
		return "", errors.New("not a registry image with a digest")
	}
	ref, err := name.ParseReference(t.Ref, name.Insecure)
	if err != nil {
		return "", err
	}
	return ref.Context().Digest(t.Digest).String(), nil
}

// enqueueLayer puts a layer task on the queue under its layer's ID. A task
// with that ID queued or running already will read it; one that failed
// for good in an earlier run is put back.
func (w *worker) enqueueLayer(ctx context.Context, lt layerTask) error {
	payload, err := json.Marshal(lt)
	if err != nil {
		return err
	}
	id := layerTaskID(lt.Key)
	for attempt := 0; attempt < 2; attempt++ {
		task := asynq.NewTask(TypeLayer, payload, asynq.TaskID(id), asynq.Queue(w.q.name), asynq.MaxRetry(3), asynq.Timeout(DefaultTaskTimeout))
		_, err := w.q.client.EnqueueContext(ctx, task)
		if err == nil || !errors.Is(err, asynq.ErrTaskIDConflict) {
			return err
		}
		info, ierr := w.q.insp.GetTaskInfo(w.q.name, id)
		if ierr != nil {
			if errors.Is(ierr, asynq.ErrTaskNotFound) {
				continue // done meanwhile: try again (a read finds it in the cache)
			}
			return ierr
		}
		if info.State != asynq.TaskStateArchived && info.State != asynq.TaskStateCompleted {
			return nil
		}
		if err := w.q.insp.DeleteTask(w.q.name, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			return err
		}
	}
	return nil
}

func (w *worker) layer(ctx context.Context, t *asynq.Task) error {
	start := time.Now()
	var p layerTask
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("layer task payload: %v: %w", err, asynq.SkipRetry)
	}
	sc, src, err := w.scanner(p.Spec)
	if err != nil {
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
	}
	src.AllPlatforms = false
	w.log("layer %d of %s: reading", p.Number, p.Ref)
	tg, err := scanner.Open(ctx, p.Ref, src)
	if err != nil {
		return permanent(err)
	}
	defer tg.Close()
	out, err := sc.ScanLayerOf(ctx, tg, p.Number, p.Key, p.Run)
	if err != nil {
		return permanent(fmt.Errorf("%s: %w", p.Ref, err))
	}
	if out.Read {
		w.n.read.Add(1)
		if err := w.q.rdb.SAdd(ctx, readSetKey(p.Run), p.Key).Err(); err == nil {
			w.q.rdb.Expire(ctx, readSetKey(p.Run), DefaultRetention)
		}
	} else {
		w.n.hits.Add(1)
	}
	w.n.layers.Add(1)
	how := "found in the cache"
	if out.Read {
		how = fmt.Sprintf("read, %d file(s), %d byte(s)", out.Stats.Files, out.Stats.Bytes)
	}
	w.log("layer %d of %s: %s (%.1fs)", p.Number, p.Ref, how, time.Since(start).Seconds())
	return nil
}

// asynqLogger passes asynq's warnings and errors on, and drops the rest.
type asynqLogger struct{ warn func(string) }

func (l asynqLogger) Debug(...any) {}
func (l asynqLogger) Info(...any)  {}
func (l asynqLogger) Warn(args ...any) {
	l.warn("asynq: " + fmt.Sprint(args...))
}
func (l asynqLogger) Error(args ...any) { l.warn("asynq: " + fmt.Sprint(args...)) }
func (l asynqLogger) Fatal(args ...any) { l.warn("asynq: " + fmt.Sprint(args...)) }
