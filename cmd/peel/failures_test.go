package main

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/internal/regtest"
)

// failureTable reads the README's table of registry failures: for each
// row (by its first column), the message peel prints, as a pattern.
func failureTable(t *testing.T) map[string]*regexp.Regexp {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "| failure | what peel says and does |")
	if start < 0 {
		t.Fatal("README.md has no failure table")
	}
	rows := map[string]*regexp.Regexp{}
	backticked := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(text[start:], "\n")[2:] {
		if !strings.HasPrefix(line, "|") {
			break
		}
		cols := strings.SplitN(strings.Trim(line, "| "), " | ", 2)
		// The message is the longest quoted part (the 429 row also quotes
		// Retry-After, the timeout row the phases).
		msg := ""
		for _, m := range backticked.FindAllStringSubmatch(cols[1], -1) {
			if len(m[1]) > len(msg) {
				msg = m[1]
			}
		}
		p := regexp.QuoteMeta(msg)
		for _, r := range []struct{ old, new string }{
			{"https://HOST", `https?://127\.0\.0\.1:\d+`}, {"HOST", `127\.0\.0\.1:\d+`}, {"NAME", `\S+`}, {"DURATION", `\S+`}, {"PHASE", `[^)]+`}, {"…", `.*`},
		} {
			p = strings.ReplaceAll(p, r.old, r.new)
		}
		p = regexp.MustCompile(`\bN\b`).ReplaceAllString(p, `\d+`)
		rows[cols[0]] = regexp.MustCompile("^" + p + "$")
	}
	return rows
}

// failureCase is one row of the table, as a run of peel.
type failureCase struct {
	input string
	run   func(t *testing.T) run
	max   time.Duration // how long the run may take
}

// checkFailures runs each case and checks peel's one line against the
// README's row: exit 2, "peel: INPUT: MESSAGE", no report, in time.
func checkFailures(t *testing.T, cases map[string]failureCase, secret string) {
	rows := failureTable(t)
	for row, c := range cases {
		want, ok := rows[row]
		if !ok {
			t.Errorf("README.md's failure table has no row %q", row)
			continue
		}
		t.Run(row, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			r := c.run(t)
			took := time.Since(start)
			line := strings.TrimSuffix(r.stderr, "\n")
			msg, found := strings.CutPrefix(line, "peel: "+c.input+": ")
			if r.code != 2 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !found || !want.MatchString(msg) {
				t.Errorf("exit %d, stdout %q, stderr %q;\nwant exit 2 and one line \"peel: %s: \" matching %s", r.code, r.stdout, r.stderr, c.input, want)
			}
			if took > c.max {
				t.Errorf("took %s, want at most %s", took.Round(time.Millisecond), c.max)
			}
			if secret != "" && strings.Contains(r.stdout+r.stderr, secret) {
				t.Error("the password was printed")
			}
			t.Logf("%s in %s: %s", row, took.Round(100*time.Millisecond), line)
		})
	}
}

// atOnce is how long a failure reported at once may take.
const atOnce = 5 * time.Second

// TestNetworkFailures checks the rows of the README's failure table that
// need no registry behind them: names that do not resolve, ports nothing
// listens on, a certificate that expired, and servers on 127.0.0.1 that
// stall in each phase of a request, under the default deadlines and under
// --timeout.
func TestNetworkFailures(t *testing.T) {
	ref := func(host string) string { return host + "/app/image:1" }
	// A label of 64 letters is not a DNS name: the lookup fails without
	// asking a server.
	unresolvable := ref(strings.Repeat("a", 64) + ".test:5000")
	refused := ref(regtestFreeAddr(t))
	expiredHost, expiredCA := regtest.ExpiredTLS(t)
	connectHost, _ := regtest.Stalling(t, regtest.StallConnect)
	silentHost, _ := regtest.Stalling(t, regtest.StallTLS)
	responseHost, responseCA := regtest.Stalling(t, regtest.StallResponse)
	bodyHost, bodyCA := regtest.Stalling(t, regtest.StallBody)
	scan := func(input string, flags ...string) func(t *testing.T) run {
		return func(t *testing.T) run {
			return peel(t, append(append([]string{"scan", "--no-cache"}, flags...), input)...)
		}
	}
	checkFailures(t, map[string]failureCase{
		"host name that does not resolve": {unresolvable, scan(unresolvable), atOnce},
		"nothing listening":               {refused, scan(refused), atOnce},
		"other TLS failure (an expired certificate, one for another name)": {ref(expiredHost), scan(ref(expiredHost), "--ca-file", expiredCA), atOnce},
		// The defaults: 30 s to connect, 15 s for the TLS handshake, 30 s
		// for the response, 60 s without data. For 127.0.0.1 HTTPS and
		// plain HTTP are both tried, at once, and the run ends when both
		// have failed (the HTTPS failure is the one told).
		"no connection within 30 s":              {ref(connectHost), scan(ref(connectHost)), 40 * time.Second},
		"no TLS handshake within 15 s":           {ref(silentHost), scan(ref(silentHost)), 40 * time.Second},
		"no response within 30 s of the request": {ref(responseHost), scan(ref(responseHost), "--ca-file", responseCA), 40 * time.Second},
		"a response that stops for 60 s":         {ref(bodyHost), scan(ref(bodyHost), "--ca-file", bodyCA), 70 * time.Second},
		// A registry that accepts and never answers, and --timeout 5s.
		"the run takes longer than `--timeout`": {ref(silentHost), scan(ref(silentHost), "--timeout", "5s"), 8 * time.Second},
	}, "")
}

// TestRealRegistryFailures checks the rows of the README's failure table
// that need a registry: the distribution registry with TLS and htpasswd
// auth, and the fault-injecting proxy in front of it.
func TestRealRegistryFailures(t *testing.T) {
	reg := regtest.Start(t)
	img, err := fixture.STSv1()
	if err != nil {
		t.Fatal(err)
	}
	book := fixture.ImageRepo + ":v1"
	reg.Push(t, book, img)
	auth := []string{"DOCKER_CONFIG=" + reg.DockerConfig(t, reg.Host, reg.Password)}
	direct := reg.Host + "/" + book
	missing := reg.Host + "/" + fixture.ImageRepo + ":v9"
	proxied := func(faults ...regtest.Fault) (string, []string) {
		p := regtest.NewProxy(t, reg, faults...)
		return p.Host + "/" + book, []string{"DOCKER_CONFIG=" + reg.DockerConfig(t, p.Host, reg.Password)}
	}
	ls, _ := img.Layers()
	keystoreLayer, _ := ls[3].Digest() // layer 4: /opt/keystore.jks
	jwtLayer, _ := ls[4].Digest()
	keystoreBlob := regexp.MustCompile(regexp.QuoteMeta("/blobs/" + keystoreLayer.String()))
	manifests := regexp.MustCompile(`/manifests/`)
	scan := func(env []string, input string, flags ...string) failureCase {
		return failureCase{input: input, max: atOnce, run: func(t *testing.T) run {
			return peelEnv(t, env, "", append(append([]string{"scan", "--no-cache"}, flags...), input)...)
		}}
	}
	denied, deniedEnv := proxied(regtest.Fault{Path: manifests, Kind: regtest.Status, Status: 403})
	limited, limitedEnv := proxied(regtest.Fault{Path: manifests, Kind: regtest.TooManyRequests})
	dropped, droppedEnv := proxied(regtest.Fault{Path: regexp.MustCompile(`/blobs/sha256:`), Kind: regtest.DropMidBody})
	tampered, tamperedEnv := proxied(regtest.Fault{Path: keystoreBlob, Kind: regtest.Tamper})
	substituted, substitutedEnv := proxied(regtest.Fault{Path: keystoreBlob, Kind: regtest.Substitute, SubstituteWith: jwtLayer.String()})
	limitedCase := scan(limitedEnv, limited)
	limitedCase.max = 40 * time.Second // 3 retries of 1 s, and go-containerregistry's own
	cases := map[string]failureCase{
		"wrong credentials":                                      scan([]string{"DOCKER_CONFIG=" + reg.DockerConfig(t, reg.Host, "wrong-password")}, direct, "--ca-file", reg.CAFile),
		"access denied":                                          scan(deniedEnv, denied),
		"missing tag or repository":                              scan(auth, missing, "--ca-file", reg.CAFile),
		"TLS certificate from an unknown authority":              scan(auth, direct),
		"429 Too Many Requests (or 503)":                         limitedCase,
		"connection dropped mid-blob":                            scan(droppedEnv, dropped),
		"blob whose content does not match its digest (or size)": scan(tamperedEnv, tampered),
	}
	checkFailures(t, cases, reg.Password)
	// A blob swapped for another is refused the same way.
	checkFailures(t, map[string]failureCase{"blob whose content does not match its digest (or size)": scan(substitutedEnv, substituted)}, reg.Password)
}

// TestFailureTableIsTested: every row of the README's failure table is
// checked by one of the tests above.
func TestFailureTableIsTested(t *testing.T) {
	tested := []string{
		"host name that does not resolve", "nothing listening", "other TLS failure (an expired certificate, one for another name)",
		"no connection within 30 s", "no TLS handshake within 15 s", "no response within 30 s of the request",
		"a response that stops for 60 s", "the run takes longer than `--timeout`",
		"wrong credentials", "access denied", "missing tag or repository", "TLS certificate from an unknown authority",
		"429 Too Many Requests (or 503)", "connection dropped mid-blob", "blob whose content does not match its digest (or size)",
		"a layer the registry does not serve, whose manifest names other URLs (a foreign layer)", // TestForeignLayersAreNotFetched
	}
	var rows []string
	for row := range failureTable(t) {
		rows = append(rows, row)
	}
	sort.Strings(rows)
	for _, row := range rows {
		if !contains(tested, row) {
			t.Errorf("no test checks the README's failure row %q", row)
		}
	}
}
