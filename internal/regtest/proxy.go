package regtest

import (
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fault is a failure the proxy injects into the requests it matches.
type Fault struct {
	// Path matches the request path, e.g. `/manifests/` or `/blobs/sha256:`.
	Path *regexp.Regexp
	// Times is how many matching requests fail; 0 is every one.
	Times int
	// Kind of failure:
	//   TooManyRequests: answer 429 with Retry-After: 1
	//   Status:          answer with the status code Status
	//   DropMidBody:     send the headers and half the body, then cut the connection
	//   Substitute:      answer a blob request with the bytes of SubstituteWith
	//   Tamper:          change one byte of the body, keeping its length (a
	//                    gzip blob's MTIME: it still decompresses, only its
	//                    digest differs)
	//   Delay:           answer as the registry does, Delay later
	Kind           FaultKind
	SubstituteWith string        // a blob digest, for Substitute
	Status         int           // an HTTP status code, for Status
	Delay          time.Duration // for Delay
}

// FaultKind names a failure.
type FaultKind int

// Failures the proxy injects.
const (
	TooManyRequests FaultKind = iota
	DropMidBody
	Substitute
	Tamper
	Status
	Delay
)

// Proxy is a plain-HTTP proxy on 127.0.0.1 in front of a Registry.
type Proxy struct {
	Host string

	mu     sync.Mutex
	faults []Fault
	hits   []int
	reg    *Registry
	client *http.Client
}

// NewProxy starts a proxy in front of reg injecting faults; it stops with
// the test.
func NewProxy(t testing.TB, reg *Registry, faults ...Fault) *Proxy {
	p := &Proxy{faults: faults, hits: make([]int, len(faults)), reg: reg, client: &http.Client{Transport: reg.Transport}}
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(srv.Close)
	p.Host = strings.TrimPrefix(srv.URL, "http://")
	return p
}

// fault returns the fault to inject into r, if any.
func (p *Proxy) fault(r *http.Request) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.faults {
		f := &p.faults[i]
		if r.Method == http.MethodGet && f.Path.MatchString(r.URL.Path) && (f.Times == 0 || p.hits[i] < f.Times) {
			p.hits[i]++
			return f
		}
	}
	return nil
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	f := p.fault(r)
	if f != nil && f.Kind == TooManyRequests {
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`, http.StatusTooManyRequests)
		return
	}
	if f != nil && f.Kind == Status {
		http.Error(w, `{"errors":[{"code":"DENIED","message":"refused by the test proxy"}]}`, f.Status)
		return
	}
	if f != nil && f.Kind == Delay {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return
		}
	}
	path := r.URL.Path
	if f != nil && f.Kind == Substitute {
		path = path[:strings.LastIndex(path, "/")+1] + f.SubstituteWith
	}
	up, err := http.NewRequestWithContext(r.Context(), r.Method, "https://"+p.reg.Host+path+queryOf(r), nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	up.Header = r.Header.Clone()
	resp, err := p.client.Do(up)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if f != nil && f.Kind == Tamper && len(body) > 8 {
		body[4] ^= 0xff
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if f != nil && f.Kind == DropMidBody && resp.StatusCode == http.StatusOK {
		w.WriteHeader(resp.StatusCode)
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			conn.Close()
		}
		return
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(body)
}

func queryOf(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return "?" + r.URL.RawQuery
}

func base64String(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
