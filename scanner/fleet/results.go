package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/peelscan/peel/scanner"
)

// Status is how far a run has come, for a progress line.
type Status struct {
	Images, ImagesDone int // image tasks, and those done (or failed for good)
	LayersPending      int // layer tasks of planned images not done yet
	Workers            int // worker processes serving the queue
}

// ResultsOptions shape Results.
type ResultsOptions struct {
	// Cache is the layer cache the workers share.
	Cache scanner.LayerCache
	// TempDir holds spill files of the image passes.
	TempDir string
	// Poll is how often the queue is looked at (default 500ms).
	Poll time.Duration
	// Progress, if set, is told the run's status at every look.
	Progress func(Status)
}

// imageState is what Results knows of one image of the run.
type imageState struct {
	done  bool
	plans []*scanner.ImagePlan
	err   string
}

// Results waits until every task of run is done, then returns one result
// per image (per platform image with AllPlatforms) in the run's order: an
// image whose task or one of whose layers failed for good is a result
// with its Error set. ctx bounds the wait.
func (q *Queue) Results(ctx context.Context, runID string, opts ResultsOptions) ([]*scanner.Result, error) {
	if opts.Cache == nil {
		return nil, errors.New("results need the workers' layer cache")
	}
	if opts.Poll <= 0 {
		opts.Poll = 500 * time.Millisecond
	}
	r, err := q.loadRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	sc, err := NewScanner(r.Spec, opts.Cache, opts.TempDir)
	if err != nil {
		return nil, err
	}
	images := make([]imageState, len(r.Inputs))
	layerErr := map[string]string{} // layer key → why it failed for good
	for {
		st, err := q.look(ctx, r, images, layerErr)
		if err != nil {
			return nil, err
		}
		if opts.Progress != nil {
			opts.Progress(st)
		}
		if st.ImagesDone == st.Images && st.LayersPending == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for run %s: %d of %d image(s) done, %d layer(s) pending: %w", runID, st.ImagesDone, st.Images, st.LayersPending, context.Cause(ctx))
		case <-time.After(opts.Poll):
		}
	}
	read, err := q.rdb.SMembers(ctx, readSetKey(runID)).Result()
	if err != nil {
		return nil, fmt.Errorf("reading run %s: %w", runID, err)
	}
	readInRun := map[string]bool{}
	for _, k := range read {
		readInRun[k] = true
	}
	seen := map[string]bool{}
	origin := func(key string) scanner.LayerOrigin {
		switch {
		case seen[key]:
			return scanner.SharedInRun
		case readInRun[key]:
			seen[key] = true
			return scanner.ReadInRun
		}
		seen[key] = true
		return scanner.FromCache
	}
	var out []*scanner.Result
	for seq, im := range images {
		if im.err != "" {
			out = append(out, &scanner.Result{Input: r.Inputs[seq], Kind: scanner.KindRegistry, Error: im.err})
			continue
		}
		for _, p := range im.plans {
			if why := failedLayer(p, layerErr); why != "" {
				out = append(out, &scanner.Result{Input: p.Input, Kind: p.Kind, Error: why})
				continue
			}
			res, err := sc.Assemble(ctx, p, runID, origin)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				out = append(out, &scanner.Result{Input: p.Input, Kind: p.Kind, Error: err.Error()})
				continue
			}
			out = append(out, res)
		}
	}
	return out, nil
}

func failedLayer(p *scanner.ImagePlan, layerErr map[string]string) string {
	for _, l := range p.Layers {
		if why, ok := layerErr[l.Key]; ok {
			return fmt.Sprintf("layer %d: %s", l.Number, why)
		}
	}
	return ""
}

// look updates what is known of the run's images and layers.
func (q *Queue) look(ctx context.Context, r *run, images []imageState, layerErr map[string]string) (Status, error) {
	st := Status{Images: len(images)}
	if servers, err := q.insp.Servers(); err == nil {
		st.Workers = len(servers)
	}
	pendingLayers := map[string]bool{}
	for seq := range images {
		im := &images[seq]
		if !im.done {
			info, err := q.insp.GetTaskInfo(q.name, imageTaskID(r.ID, seq))
			switch {
			case errors.Is(err, asynq.ErrTaskNotFound):
				im.done, im.err = true, "its task is no longer on the queue (the run's retention passed?)"
			case err != nil:
				return st, fmt.Errorf("reading the queue: %w", err)
			case info.State == asynq.TaskStateArchived:
				im.done, im.err = true, info.LastErr
			case info.State == asynq.TaskStateCompleted:
				var o imageOutcome
				if err := json.Unmarshal(info.Result, &o); err != nil {
					im.done, im.err = true, "its plan does not decode: "+err.Error()
					break
				}
				im.done, im.plans = true, o.Plans
			}
		}
		if !im.done {
			continue
		}
		st.ImagesDone++
		for _, p := range im.plans {
			for _, l := range p.Layers {
				if l.Cached || pendingLayers[l.Key] {
					continue
				}
				if _, failed := layerErr[l.Key]; failed {
					continue
				}
				pending, why, err := q.layerPending(ctx, r.ID, l.Key)
				if err != nil {
					return st, err
				}
				if why != "" {
					layerErr[l.Key] = why
				}
				if pending {
					pendingLayers[l.Key] = true
				}
			}
		}
	}
	st.LayersPending = len(pendingLayers)
	return st, nil
}

// layerPending says whether a layer's task is still to run, or why it
// failed for good.
func (q *Queue) layerPending(ctx context.Context, runID, key string) (bool, string, error) {
	info, err := q.insp.GetTaskInfo(q.name, layerTaskID(key))
	switch {
	case err == nil && info.State == asynq.TaskStateArchived:
		return false, info.LastErr, nil
	case err == nil && info.State != asynq.TaskStateCompleted:
		return true, "", nil
	case err != nil && !errors.Is(err, asynq.ErrTaskNotFound):
		return false, "", fmt.Errorf("reading the queue: %w", err)
	}
	// Done: its result is in the cache (Assemble says so if it is not).
	return false, "", nil
}
