package scanner

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/peelscan/peel/internal/regtest"
)

// TestDeadlines: a host that stalls in each phase of a request fails, once
// that phase's deadline passed, with a NetError naming the host and what
// stalled; the caller's own cancellation is not a stall.
func TestDeadlines(t *testing.T) {
	const d = 400 * time.Millisecond
	for _, tc := range []struct {
		kind  regtest.StallKind
		path  string
		phase Phase
		msg   string
	}{
		{regtest.StallConnect, "/v2/", PhaseConnect, "stalled: no connection within 0.4s"},
		{regtest.StallTLS, "/v2/", PhaseTLS, "stalled: no TLS handshake within 0.4s"},
		{regtest.StallResponse, "/v2/", PhaseResponse, "stalled: no response within 0.4s"},
		{regtest.StallBody, "/v2/app/manifests/1", PhaseBody, "stalled: no data for 0.4s mid-transfer"},
	} {
		t.Run(tc.phase.String(), func(t *testing.T) {
			t.Parallel()
			host, caFile := regtest.Stalling(t, tc.kind)
			opts := TransportOptions{ConnectTimeout: d, TLSHandshakeTimeout: d, ResponseHeaderTimeout: d, IdleTimeout: d}
			if caFile != "" {
				opts.CAPEM, _ = os.ReadFile(caFile)
			}
			rt, err := NewTransport(opts)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			resp, err := (&http.Client{Transport: rt}).Get("https://" + host + tc.path)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			took := time.Since(start)
			var ne *NetError
			if !errors.As(err, &ne) || !ne.Stalled || ne.Phase != tc.phase || ne.Host != host || !errors.Is(err, ErrStalled) {
				t.Fatalf("err %v (%T), want a stall of %s at %s", err, err, tc.phase, host)
			}
			if !strings.Contains(err.Error(), host+" "+tc.msg) {
				t.Errorf("message %q lacks %q", err, host+" "+tc.msg)
			}
			if took > 5*d {
				t.Errorf("took %s for a deadline of %s", took, d)
			}
			if transient(err) {
				t.Error("a stall is retried")
			}
			if re := describeRegistryError(err, host); !strings.HasSuffix(re.Error(), host+" "+tc.msg) {
				t.Errorf("described as %q", re)
			}
		})
	}
	t.Run("cancelled by the caller", func(t *testing.T) {
		t.Parallel()
		host, _ := regtest.Stalling(t, regtest.StallTLS)
		rt, _ := NewTransport(TransportOptions{})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/v2/", nil)
		_, err := (&http.Client{Transport: rt}).Do(req)
		var ne *NetError
		if !errors.As(err, &ne) || ne.Stalled || ne.Phase != PhaseTLS || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err %v, want the caller's deadline during the TLS handshake", err)
		}
	})
}

// TestTransientFailures: only a connection reset or cut short is tried
// again; a name that does not resolve, a refused connection, a TLS failure
// and a stall are not.
func TestTransientFailures(t *testing.T) {
	rt, _ := NewTransport(TransportOptions{})
	get := func(url string) error {
		resp, err := (&http.Client{Transport: rt}).Get(url)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	long := strings.Repeat("a", 64) // not a DNS name: fails without a lookup
	refused := "127.0.0.1:1"
	expired, _ := regtest.ExpiredTLS(t)
	for url, want := range map[string]RegistryFailure{
		"https://" + long + ".test/v2/": FailDNS,
		"https://" + refused + "/v2/":   FailRefused,
		"https://" + expired + "/v2/":   FailTLS, // expiry is checked before the authority
	} {
		err := get(url)
		if err == nil || transient(err) {
			t.Errorf("%s: %v, transient %v", url, err, err != nil && transient(err))
			continue
		}
		var re *RegistryError
		if !errors.As(describeRegistryError(err, "h"), &re) || re.Kind != want {
			t.Errorf("%s: described as %v, want %s", url, describeRegistryError(err, "h"), want)
		}
	}
	for _, err := range []error{io.ErrUnexpectedEOF, errors.New("read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer")} {
		if !transient(&NetError{Host: "h", Phase: PhaseBody, Err: err}) {
			t.Errorf("%v is not retried", err)
		}
	}
}
