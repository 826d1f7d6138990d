package scanner

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// TransportOptions say how registries are reached.
type TransportOptions struct {
	// CAPEM adds certificate authorities (PEM) to the system's for TLS.
	CAPEM []byte
	// Insecure lists registries (host[:port]) reached over plain HTTP or
	// TLS without verification; only those hosts.
	Insecure []string
	// MaxRetries bounds the retries of a request the registry answered
	// 429 or 503 (default 3); MaxRetryWait bounds each wait (default 10s).
	MaxRetries   int
	MaxRetryWait time.Duration
	// Deadlines of each request; zero means the default. A request that
	// passes one fails with a *NetError that says the host stalled.
	ConnectTimeout        time.Duration // DNS lookup and TCP connect (default 30s)
	TLSHandshakeTimeout   time.Duration // default 15s
	ResponseHeaderTimeout time.Duration // from the request sent to the response's headers (default 30s)
	IdleTimeout           time.Duration // longest wait for more of a response body (default 60s)
}

// Default deadlines of registry requests.
const (
	DefaultConnectTimeout        = 30 * time.Second
	DefaultTLSHandshakeTimeout   = 15 * time.Second
	DefaultResponseHeaderTimeout = 30 * time.Second
	DefaultIdleTimeout           = 60 * time.Second
)

// NewTransport builds the HTTP transport for registry requests: TLS with
// the extra CAs, unverified TLS for the insecure hosts only, a deadline on
// connecting, on the TLS handshake, on the response headers and on every
// wait for more of a body, and bounded retries that honour Retry-After on
// 429 and 503.
func NewTransport(opts TransportOptions) (http.RoundTripper, error) {
	opts.ConnectTimeout = cmp.Or(opts.ConnectTimeout, DefaultConnectTimeout)
	opts.TLSHandshakeTimeout = cmp.Or(opts.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout)
	opts.ResponseHeaderTimeout = cmp.Or(opts.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
	opts.IdleTimeout = cmp.Or(opts.IdleTimeout, DefaultIdleTimeout)
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.DialContext = (&net.Dialer{Timeout: opts.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext
	base.TLSHandshakeTimeout = opts.TLSHandshakeTimeout
	base.ResponseHeaderTimeout = opts.ResponseHeaderTimeout
	if len(opts.CAPEM) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(opts.CAPEM) {
			return nil, errors.New("no PEM certificate in the CA file")
		}
		base.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	var rt http.RoundTripper = base
	if len(opts.Insecure) > 0 {
		insecure := base.Clone()
		if insecure.TLSClientConfig == nil {
			insecure.TLSClientConfig = &tls.Config{}
		}
		insecure.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // only for the hosts the user named insecure
		hosts := map[string]bool{}
		for _, h := range opts.Insecure {
			hosts[strings.ToLower(h)] = true
		}
		rt = hostRouter{secure: base, insecure: insecure, hosts: hosts}
	}
	rt = &deadlines{next: rt, opts: opts}
	if opts.MaxRetries <= 0 {
		opts.MaxRetries = 3
	}
	if opts.MaxRetryWait <= 0 {
		opts.MaxRetryWait = 10 * time.Second
	}
	return &retryAfter{next: rt, max: opts.MaxRetries, maxWait: opts.MaxRetryWait}, nil
}

// hostRouter sends requests for the insecure hosts through the unverified
// transport and all others through the verifying one.
type hostRouter struct {
	secure, insecure http.RoundTripper
	hosts            map[string]bool
}

func (h hostRouter) RoundTrip(req *http.Request) (*http.Response, error) {
	if h.hosts[strings.ToLower(req.URL.Host)] {
		return h.insecure.RoundTrip(req)
	}
	return h.secure.RoundTrip(req)
}

// retryAfter retries requests answered 429 Too Many Requests or 503
// Service Unavailable, waiting as Retry-After says (seconds or an HTTP
// date; else 1s, 2s, 4s …), each wait capped at maxWait, at most max
// times; then the last answer goes back to the caller.
type retryAfter struct {
	next    http.RoundTripper
	max     int
	maxWait time.Duration
}

// ErrRateLimited is wrapped in the error of a request still refused with 429
// after the retries.
var ErrRateLimited = errors.New("rate limited")

func (r *retryAfter) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := r.next.RoundTrip(req)
		if err != nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
			return resp, err
		}
		if attempt >= r.max || (req.Body != nil && req.GetBody == nil) {
			return resp, nil
		}
		wait := retryWait(resp.Header.Get("Retry-After"), attempt)
		if wait > r.maxWait {
			wait = r.maxWait
		}
		resp.Body.Close()
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req.Body = body
		}
		t := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			t.Stop()
			return nil, req.Context().Err()
		case <-t.C:
		}
	}
}

func retryWait(header string, attempt int) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(header)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(header); err == nil {
		return time.Until(t)
	}
	return time.Duration(1<<attempt) * time.Second
}

// statusText names an HTTP status for messages: "401 Unauthorized".
func statusText(code int) string { return fmt.Sprintf("%d %s", code, http.StatusText(code)) }
