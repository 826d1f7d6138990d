package fleet_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/peelscan/peel/internal/redistest"
	"github.com/peelscan/peel/scanner/fleet"
)

func TestRedisOptions(t *testing.T) {
	o, err := fleet.RedisOptions("redis://user:pw@127.0.0.1:6390/3", nil)
	if err != nil || o.Addr != "127.0.0.1:6390" || o.DB != 3 || o.Username != "user" || o.Password != "pw" || o.TLSConfig != nil {
		t.Errorf("redis://: %+v %v", o, err)
	}
	if _, err := fleet.RedisOptions("redis://127.0.0.1:6390/0", []byte("x")); err == nil || !strings.Contains(err.Error(), "rediss://") {
		t.Errorf("a CA for a plain URL: %v", err)
	}
	if _, err := fleet.RedisOptions("http://127.0.0.1/", nil); err == nil {
		t.Error("http:// accepted")
	}
	srv := redistest.StartWith(t, redistest.Options{TLS: true})
	ca, _ := os.ReadFile(srv.CAFile)
	if _, err := fleet.RedisOptions(srv.URL(0), []byte("not pem")); err == nil {
		t.Error("a CA file without PEM accepted")
	}
	o, err = fleet.RedisOptions(srv.URL(0), ca)
	if err != nil || o.TLSConfig == nil || o.TLSConfig.RootCAs == nil {
		t.Fatalf("rediss:// with a CA: %+v %v", o, err)
	}
}

// TestRuns: a run's name is its own, a missing run is said to be, and a
// run whose image tasks no worker takes is waited for until the context
// ends, saying how far it got.
func TestRuns(t *testing.T) {
	srv := redistest.Start(t)
	url := srv.DB(t)
	o, _ := fleet.RedisOptions(url, nil)
	c := srv.Client(o.DB)
	defer c.Close()
	ctx := context.Background()
	q, err := fleet.Open(ctx, c, "")
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	id, err := q.Enqueue(ctx, []string{"127.0.0.1:1/a:1", "127.0.0.1:1/b:1"}, fleet.Spec{}, fleet.EnqueueOptions{Run: "nightly"})
	if err != nil || id != "nightly" {
		t.Fatalf("enqueue: %q %v", id, err)
	}
	if _, err := q.Enqueue(ctx, []string{"127.0.0.1:1/a:1"}, fleet.Spec{}, fleet.EnqueueOptions{Run: "nightly"}); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("a second run of the same name: %v", err)
	}
	if _, err := q.Results(ctx, "no-such-run", fleet.ResultsOptions{Cache: nopCache{}}); err == nil || !strings.Contains(err.Error(), "no run no-such-run") {
		t.Errorf("a missing run: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	var last fleet.Status
	_, err = q.Results(wctx, "nightly", fleet.ResultsOptions{Cache: nopCache{}, Poll: 100 * time.Millisecond, Progress: func(s fleet.Status) { last = s }})
	if err == nil || !strings.Contains(err.Error(), "0 of 2 image(s) done") || last.Images != 2 || last.Workers != 0 {
		t.Errorf("no worker: %v, last status %+v", err, last)
	}
}

type nopCache struct{}

func (nopCache) Get(context.Context, string) ([]byte, bool, error) { return nil, false, nil }
func (nopCache) Put(context.Context, string, []byte) error         { return nil }
