package rediscache_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/peelscan/peel/internal/redistest"
	"github.com/peelscan/peel/scanner"
	"github.com/peelscan/peel/scanner/cache/rediscache"
)

var _ scanner.LayerCache = (*rediscache.Store)(nil)

const key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func roundTrip(t *testing.T, st *rediscache.Store) {
	t.Helper()
	ctx := context.Background()
	if _, ok, err := st.Get(ctx, key); ok || err != nil {
		t.Fatalf("empty store: ok %v err %v", ok, err)
	}
	value := bytes.Repeat([]byte{0, 1, 2, 0xff}, 1<<16) // binary, 256 KiB
	if err := st.Put(ctx, key, value); err != nil {
		t.Fatal(err)
	}
	got, ok, err := st.Get(ctx, key)
	if !ok || err != nil || !bytes.Equal(got, value) {
		t.Fatalf("get after put: ok %v err %v, %d bytes", ok, err, len(got))
	}
	for _, bad := range []string{"../../etc/passwd", "ABCDEF0123456789ABCDEF", "short"} {
		if err := st.Put(ctx, bad, value); err == nil {
			t.Errorf("Put(%q) accepted", bad)
		}
		if _, _, err := st.Get(ctx, bad); err == nil {
			t.Errorf("Get(%q) accepted", bad)
		}
	}
}

func TestStore(t *testing.T) {
	srv := redistest.Start(t)
	url := srv.DB(t)
	c := srv.Client(dbOf(url))
	defer c.Close()
	st := rediscache.New(c, rediscache.Options{TTL: time.Hour})
	roundTrip(t, st)
	ttl, err := c.TTL(context.Background(), rediscache.DefaultPrefix+key).Result()
	if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("entry TTL %v (%v), want about an hour", ttl, err)
	}
	// Another prefix is another cache on the same server.
	other := rediscache.New(c, rediscache.Options{Prefix: "other:"})
	if _, ok, _ := other.Get(context.Background(), key); ok {
		t.Error("an entry crossed prefixes")
	}
}

// TestStoreTLSAndPassword: rediss:// with the server's CA, and a password.
func TestStoreTLSAndPassword(t *testing.T) {
	srv := redistest.StartWith(t, redistest.Options{TLS: true, Password: "peel-test-redis-pw"})
	if !strings.HasPrefix(srv.URL(0), "rediss://") {
		t.Fatalf("URL %s", srv.URL(0))
	}
	c := srv.Client(0)
	defer c.Close()
	roundTrip(t, rediscache.New(c, rediscache.Options{}))
}

// TestStoreDown: a server that went away is an error, never a hit.
func TestStoreDown(t *testing.T) {
	srv := redistest.StartWith(t, redistest.Options{})
	c := srv.Client(0)
	defer c.Close()
	st := rediscache.New(c, rediscache.Options{})
	c2 := srv.Client(0)
	c2.Shutdown(context.Background()) // the server stops
	c2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, ok, err := st.Get(ctx, key); ok || err == nil {
		t.Errorf("Get on a stopped server: ok %v err %v", ok, err)
	}
	if err := st.Put(ctx, key, []byte("x")); err == nil {
		t.Error("Put on a stopped server succeeded")
	}
}

func dbOf(url string) int {
	n := 0
	for _, c := range url[strings.LastIndex(url, "/")+1:] {
		n = n*10 + int(c-'0')
	}
	return n
}
