// Package fleet spreads the scan of many images over worker processes on
// many machines, through a task queue in Redis (github.com/hibiken/asynq)
// and a layer cache they share (any scanner.LayerCache; in Redis,
// scanner/cache/rediscache).
//
// A run has one image task per image and one layer task per distinct
// layer that no cache holds:
//
//   - Enqueue stores the run's record (its images, in order, and the scan
//     options) and puts an image task per image on the queue.
//   - An image task resolves its image with the worker's own registry
//     access (manifest and config, checked; the config goes to the cache)
//     and puts a layer task on the queue for each layer whose result the
//     cache lacks. A layer task's ID is its layer's cache key (the
//     identity reading it verifies, with the rules and options), and
//     asynq refuses a second task with an ID that is queued or running:
//     however many images and workers meet a layer at once, one task
//     reads it. Its plan (names and digests, no content) is the image
//     task's result, kept on the queue for the run's retention.
//   - A layer task reads its layer through the cache (one that is there by
//     then is not read again) and stores the result.
//   - Results waits until every image task and layer task of the run is
//     done, and assembles each image's result from its config and layer
//     results in the cache, through the same image passes as a scan in one
//     process, so the findings and fingerprints are the same.
//
// A worker that dies mid-task loses nothing: asynq leases each task to the
// worker running it, and a task whose lease is not renewed goes back on
// the queue for another (after about one to two minutes). Tasks carry
// references, digests and scan options, never credentials: each worker
// reaches registries as a single scan does, from its own environment.
package fleet

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	goredis "github.com/redis/go-redis/v9"

	"github.com/peelscan/peel/rules"
	"github.com/peelscan/peel/scanner"
)

// Task types.
const (
	TypeImage = "peel:image"
	TypeLayer = "peel:layer"
)

// DefaultQueue is the asynq queue peel's tasks go on.
const DefaultQueue = "peel"

// DefaultRetention is how long a run's record and its image tasks'
// results are kept once done.
const DefaultRetention = 24 * time.Hour

// DefaultTaskTimeout bounds one task.
const DefaultTaskTimeout = time.Hour

// Spec is what a run asks of every scan: the options that change results,
// the platform, and the rules. It travels in every task; it holds no
// credentials.
type Spec struct {
	Result             scanner.ResultOptions `json:"result"`
	MaxTotalInflate    int64                 `json:"max_total_inflate,omitempty"`
	Platform           string                `json:"platform,omitempty"`
	AllPlatforms       bool                  `json:"all_platforms,omitempty"`
	AllowForeignLayers bool                  `json:"allow_foreign_layers,omitempty"`
	NoGitleaks         bool                  `json:"no_gitleaks,omitempty"`
	GitleaksConfig     []byte                `json:"gitleaks_config,omitempty"`
}

func (s Spec) hash() string {
	b, _ := json.Marshal(s)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Engine builds the rules engine the spec names.
func (s Spec) Engine() (*rules.Engine, error) {
	return rules.NewEngine(rules.EngineOptions{NoGitleaks: s.NoGitleaks, GitleaksConfig: s.GitleaksConfig})
}

// RedisOptions reads a Redis URL, redis://[USER:PASSWORD@]HOST:PORT/DB or
// rediss:// for TLS, whose server certificate is checked against the
// system's authorities and those of caPEM, if any.
func RedisOptions(url string, caPEM []byte) (*goredis.Options, error) {
	o, err := goredis.ParseURL(url)
	if err != nil {
		return nil, errors.New("not a Redis URL (want redis://[USER:PASSWORD@]HOST:PORT/DB or rediss://…)")
	}
	if len(caPEM) > 0 {
		if o.TLSConfig == nil {
			return nil, errors.New("a CA file is for rediss:// (TLS) URLs")
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("no PEM certificate in the CA file")
		}
		o.TLSConfig.RootCAs = pool
	}
	if o.TLSConfig != nil && o.TLSConfig.MinVersion == 0 {
		o.TLSConfig.MinVersion = tls.VersionTLS12
	}
	return o, nil
}

// Queue is a run queue in Redis.
type Queue struct {
	rdb    goredis.UniversalClient
	client *asynq.Client
	insp   *asynq.Inspector
	name   string
}

// Open connects to the queue named name (DefaultQueue if empty) through
// rdb, which the caller closes after the Queue.
func Open(ctx context.Context, rdb goredis.UniversalClient, name string) (*Queue, error) {
	if name == "" {
		name = DefaultQueue
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("cannot reach Redis: %w", err)
	}
	return &Queue{rdb: rdb, client: asynq.NewClientFromRedisClient(rdb), insp: asynq.NewInspectorFromRedisClient(rdb), name: name}, nil
}

// Close releases the queue's asynq client (not the Redis client).
func (q *Queue) Close() error {
	q.insp.Close()
	return q.client.Close()
}

// run is a run's record.
type run struct {
	ID      string    `json:"id"`
	Inputs  []string  `json:"inputs"`
	Spec    Spec      `json:"spec"`
	Created time.Time `json:"created"`
}

func runKey(id string) string               { return "peel:run:" + id }
func readSetKey(id string) string           { return "peel:run:" + id + ":read" }
func imageTaskID(id string, seq int) string { return fmt.Sprintf("peel:%s:image:%d", id, seq) }
func layerTaskID(key string) string         { return "peel:layer:" + key }

type imageTask struct {
	Run   string `json:"run"`
	Seq   int    `json:"seq"`
	Input string `json:"input"`
	Spec  Spec   `json:"spec"`
}

type layerTask struct {
	Run    string `json:"run"`
	Ref    string `json:"ref"` // the image, pinned by digest
	Number int    `json:"number"`
	Key    string `json:"key"`
	Spec   Spec   `json:"spec"`
}

// imageOutcome is an image task's result: the plans of its image (one per
// platform with AllPlatforms).
type imageOutcome struct {
	Plans []*scanner.ImagePlan `json:"plans"`
}

// EnqueueOptions shape a run.
type EnqueueOptions struct {
	// Run names the run; default a random one.
	Run string
	// Retention keeps the run's record and results once done
	// (DefaultRetention if zero).
	Retention time.Duration
	// TaskTimeout bounds each task (DefaultTaskTimeout if zero).
	TaskTimeout time.Duration
}

// Enqueue starts a run over inputs (registry references), one image task
// each, and returns the run's ID.
func (q *Queue) Enqueue(ctx context.Context, inputs []string, spec Spec, opts EnqueueOptions) (string, error) {
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.TaskTimeout <= 0 {
		opts.TaskTimeout = DefaultTaskTimeout
	}
	id := opts.Run
	if id == "" {
		b := make([]byte, 8)
		rand.Read(b)
		id = hex.EncodeToString(b)
	}
	rec, err := json.Marshal(run{ID: id, Inputs: inputs, Spec: spec, Created: time.Now().UTC()})
	if err != nil {
		return "", err
	}
	ok, err := q.rdb.SetNX(ctx, runKey(id), rec, opts.Retention).Result()
	if err != nil {
		return "", fmt.Errorf("storing the run: %w", err)
	}
	if !ok {
		return "", fmt.Errorf("a run named %s exists already", id)
	}
	for seq, in := range inputs {
		payload, err := json.Marshal(imageTask{Run: id, Seq: seq, Input: in, Spec: spec})
		if err != nil {
			return "", err
		}
		t := asynq.NewTask(TypeImage, payload, asynq.TaskID(imageTaskID(id, seq)), asynq.Queue(q.name),
			asynq.MaxRetry(3), asynq.Retention(opts.Retention), asynq.Timeout(opts.TaskTimeout))
		if _, err := q.client.EnqueueContext(ctx, t); err != nil {
			return "", fmt.Errorf("enqueuing %s: %w", in, err)
		}
	}
	return id, nil
}

// loadRun reads a run's record.
func (q *Queue) loadRun(ctx context.Context, id string) (*run, error) {
	b, err := q.rdb.Get(ctx, runKey(id)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("no run %s on this queue (or its retention passed)", id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading run %s: %w", id, err)
	}
	var r run
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("run %s: its record does not decode: %w", id, err)
	}
	return &r, nil
}
