package scanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// Phase is what a registry request was doing when it failed.
type Phase int32

// The phases of a request, in order.
const (
	PhaseConnect  Phase = iota // looking the host up and connecting
	PhaseTLS                   // the TLS handshake
	PhaseResponse              // the request sent, waiting for the response's headers
	PhaseBody                  // reading the response body
)

func (p Phase) String() string {
	switch p {
	case PhaseConnect:
		return "connecting"
	case PhaseTLS:
		return "TLS handshake"
	case PhaseResponse:
		return "waiting for the response"
	}
	return "reading the response"
}

// NetError is a registry request that failed below HTTP: the host, the
// phase the request was in, whether a deadline of that phase passed (the
// host stalled), and the cause, kept for errors.Is and errors.As.
type NetError struct {
	Host    string // host[:port]
	Phase   Phase
	Stalled bool          // a deadline of the phase passed (not the caller's context)
	After   time.Duration // with Stalled: the deadline
	Err     error
}

func (e *NetError) Error() string {
	if e.Stalled {
		switch e.Phase {
		case PhaseConnect:
			return fmt.Sprintf("%s stalled: no connection within %s", e.Host, seconds(e.After))
		case PhaseTLS:
			return fmt.Sprintf("%s stalled: no TLS handshake within %s", e.Host, seconds(e.After))
		case PhaseResponse:
			return fmt.Sprintf("%s stalled: no response within %s", e.Host, seconds(e.After))
		}
		return fmt.Sprintf("%s stalled: no data for %s mid-transfer", e.Host, seconds(e.After))
	}
	return fmt.Sprintf("%s: %s: %s", e.Host, e.Phase, oneLine(e.Err.Error()))
}

func (e *NetError) Unwrap() error { return e.Err }

// seconds writes a deadline as the README's table does: 30s, 1.5s.
func seconds(d time.Duration) string { return fmt.Sprintf("%gs", d.Seconds()) }

// ErrStalled matches (errors.Is) a NetError whose host stalled.
var ErrStalled = errors.New("stalled")

// Is makes errors.Is(err, ErrStalled) true for a stall.
func (e *NetError) Is(target error) bool { return target == ErrStalled && e.Stalled }

// deadlines records the phase of each request, names the host and phase
// in its errors, tells a passed deadline (a stalled host) from the caller's
// cancellation, and ends a body read that waits longer than IdleTimeout.
// The connect, TLS and header deadlines are the http.Transport's.
type deadlines struct {
	next http.RoundTripper
	opts TransportOptions
}

func (d *deadlines) RoundTrip(req *http.Request) (*http.Response, error) {
	var phase atomic.Int32
	set := func(p Phase) { phase.Store(int32(p)) }
	trace := &httptrace.ClientTrace{
		DNSStart:          func(httptrace.DNSStartInfo) { set(PhaseConnect) },
		ConnectStart:      func(string, string) { set(PhaseConnect) },
		TLSHandshakeStart: func() { set(PhaseTLS) },
		GotConn:           func(httptrace.GotConnInfo) { set(PhaseResponse) },
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	resp, err := d.next.RoundTrip(req.WithContext(httptrace.WithClientTrace(ctx, trace)))
	if err != nil {
		cancel(nil)
		return nil, d.wrap(req, Phase(phase.Load()), err)
	}
	b := &watchedBody{rc: resp.Body, cancel: cancel, idle: d.opts.IdleTimeout, host: req.URL.Host, parent: req.Context()}
	b.timer = time.AfterFunc(time.Hour, b.stall)
	b.timer.Stop()
	resp.Body = b
	return resp, nil
}

// wrap names the host and phase of a failed request. A timeout while the
// caller's context is live is a deadline of the phase: the host stalled.
func (d *deadlines) wrap(req *http.Request, p Phase, err error) error {
	e := &NetError{Host: req.URL.Host, Phase: p, Err: err}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && req.Context().Err() == nil {
		e.Stalled = true
		switch p {
		case PhaseConnect:
			e.After = d.opts.ConnectTimeout
		case PhaseTLS:
			e.After = d.opts.TLSHandshakeTimeout
		default:
			e.After = d.opts.ResponseHeaderTimeout
		}
	}
	return e
}

// watchedBody is a response body whose every read must bring data within
// idle: a read that waits longer cancels the request and fails as a stall.
type watchedBody struct {
	rc      io.ReadCloser
	cancel  context.CancelCauseFunc
	idle    time.Duration
	host    string
	parent  context.Context
	timer   *time.Timer
	stalled atomic.Bool
}

func (b *watchedBody) stall() {
	b.stalled.Store(true)
	b.cancel(ErrStalled)
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.idle)
	n, err := b.rc.Read(p)
	b.timer.Stop()
	if err == nil || errors.Is(err, io.EOF) {
		return n, err
	}
	e := &NetError{Host: b.host, Phase: PhaseBody, Err: err}
	if b.stalled.Load() && b.parent.Err() == nil {
		e.Stalled, e.After = true, b.idle
	}
	return n, e
}

func (b *watchedBody) Close() error {
	b.timer.Stop()
	err := b.rc.Close()
	b.cancel(nil)
	return err
}
