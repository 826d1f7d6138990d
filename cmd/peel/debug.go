package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/peelscan/peel/report"
)

// debugHandler writes --debug's log lines to stderr, one per record:
// "peel: debug: MESSAGE key=value …", every part escaped with
// report.Printable. What reaches it is chosen never to hold a secret or
// a credential: request URLs without their query or user, no headers, no
// bodies, no flag values from the environment.
type debugHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	attrs []slog.Attr
}

func newDebugLogger(w io.Writer) *slog.Logger {
	return slog.New(&debugHandler{mu: &sync.Mutex{}, w: w})
}

func (h *debugHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *debugHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("peel: debug: ")
	b.WriteString(report.Printable(r.Message))
	write := func(a slog.Attr) bool {
		v := a.Value.Resolve().String()
		if v == "" {
			return true // not known here: said by leaving it out
		}
		if strings.ContainsAny(v, " \"") {
			v = fmt.Sprintf("%q", v)
		}
		fmt.Fprintf(&b, " %s=%s", report.Printable(a.Key), report.Printable(v))
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	b.WriteString("\n")
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *debugHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &debugHandler{mu: h.mu, w: h.w, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

func (h *debugHandler) WithGroup(string) slog.Handler { return h }

// debugTransport logs every registry request: method, URL (scheme, host
// and path only: a query may hold a signature or a token, a URL's user
// part a password), status and time taken. Headers, where credentials
// travel, are never logged.
type debugTransport struct {
	next http.RoundTripper
	log  *slog.Logger
}

func (d debugTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := d.next.RoundTrip(req)
	took := time.Since(start).Round(time.Millisecond).String()
	switch {
	case err != nil:
		d.log.Debug("request failed", "method", req.Method, "url", safeURL(req.URL), "after", took, "error", safeError(err))
	default:
		d.log.Debug("request", "method", req.Method, "url", safeURL(req.URL), "status", resp.StatusCode, "after", took)
	}
	return resp, err
}

// safeURL is a URL without its user part and query.
func safeURL(u *url.URL) string {
	c := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	s := c.String()
	if u.RawQuery != "" {
		s += "?…"
	}
	return s
}

// safeError is an error's text with the URLs in it cut to safeURL.
func safeError(err error) string {
	if ue, ok := err.(*url.Error); ok {
		if u, perr := url.Parse(ue.URL); perr == nil {
			return ue.Op + " " + safeURL(u) + ": " + ue.Err.Error()
		}
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}
