package rules

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/peelscan/peel/rules/internal/gitleaks"
)

// gitleaksSample is one true or false positive of a gitleaks rule, as its
// generator in gitleaks' cmd/generate/config/rules validates it (see
// testdata/gitleaks-samples).
type gitleaksSample struct {
	Rule     string `json:"rule"`
	Positive bool   `json:"positive"`
	Text     string `json:"text"`
	Path     string `json:"path"`
}

var samplesOnce struct {
	sync.Once
	samples []gitleaksSample
	err     error
}

// gitleaksSamples returns gitleaks' generated samples, made by
// testdata/gitleaks-samples into testdata/build on first use (with
// GOPROXY=off: nothing is downloaded; `make gitleaks-samples` downloads
// what the generator needs). When they cannot be made the test is skipped,
// and fails under CI=true.
func gitleaksSamples(t testing.TB) []gitleaksSample {
	t.Helper()
	samplesOnce.Do(func() { samplesOnce.samples, samplesOnce.err = loadGitleaksSamples() })
	if err := samplesOnce.err; err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("gitleaks' generated samples: %v", err)
		}
		t.Skipf("gitleaks' generated samples cannot be made here (run `make gitleaks-samples`): %v", err)
	}
	return samplesOnce.samples
}

// gitleaksVersion is the gitleaks module version go.mod requires.
func gitleaksVersion() string {
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/zricethezav/gitleaks/v8" {
			return f[1]
		}
	}
	return ""
}

// samplesFile is where testdata/gitleaks-samples writes them (the
// Makefile's gitleaks-samples target uses the same path).
const samplesFile = "../testdata/build/gitleaks-samples.jsonl"

func loadGitleaksSamples() ([]gitleaksSample, error) {
	version := gitleaksVersion()
	if version == "" {
		return nil, fmt.Errorf("no gitleaks module in go.mod")
	}
	samples, got, err := readGitleaksSamples(samplesFile)
	if err == nil && got == version {
		return samples, nil
	}
	cmd := exec.Command("go", "run", "./testdata/gitleaks-samples", "-out", "testdata/build/gitleaks-samples.jsonl")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go run ./testdata/gitleaks-samples: %v\n%s", err, out)
	}
	samples, got, err = readGitleaksSamples(samplesFile)
	if err != nil {
		return nil, err
	}
	if got != version {
		return nil, fmt.Errorf("%s holds gitleaks %s's samples, this build uses %s", samplesFile, got, version)
	}
	return samples, nil
}

func readGitleaksSamples(file string) ([]gitleaksSample, string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	var head struct{ Gitleaks string }
	var out []gitleaksSample
	for n := 0; sc.Scan(); n++ {
		if n == 0 {
			if err := json.Unmarshal(sc.Bytes(), &head); err != nil {
				return nil, "", fmt.Errorf("%s: header: %w", file, err)
			}
			continue
		}
		var s gitleaksSample
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			return nil, "", fmt.Errorf("%s:%d: %w", file, n+1, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, "", err
	}
	if len(out) == 0 {
		return nil, "", fmt.Errorf("%s: no samples", file)
	}
	return out, head.Gitleaks, nil
}

// sourceNoise is padding as source code and configuration look: dense in
// gitleaks' keywords (key, token, password, secret, auth, api, client,
// access, private, ey, sk, …) used as names, in calls, comments and
// assignments whose values are no secret.
var sourceNoiseLines = []string{
	"func (s *Store) Lookup(key string) (Token, error) {",
	"\t// the password is hashed before the token is issued to the client",
	"\tif err := s.client.Check(ctx, key); err != nil {",
	"\t\treturn Token{}, fmt.Errorf(\"lookup %s: %w\", key, err)",
	"\t}",
	"\treturn s.cache.Get(key), nil",
	"}",
	"values.sort(key=len)  # access the api, auth later",
	"the key of this map is the user name; pass the token list to the client.",
	"password = request.form.get(\"password\")",
	"secret = os.environ[\"APP_SECRET\"]",
	"const apiKey = config.get('api_key');",
	"private static final String TOKEN_HEADER = \"Authorization\";",
	"export AUTH_URL=${AUTH_URL:-http://localhost:8080/auth}",
	"  access_log /var/log/nginx/access.log main;",
	"if (token == null || token.isEmpty()) { throw new IllegalStateException(\"no token\"); }",
	"# see the keystore section of the docs for the key password",
	"client.api.timeout = 30",
	"    key: value",
	"self.assertEqual(resp.status_code, 401)  # expired token",
	"<property name=\"passwordEncoder\" ref=\"bcrypt\"/>",
	"SELECT user_id, api_key_id FROM credentials WHERE revoked = false;",
	"\"key\": \"name\", \"type\": \"string\", \"secret\": false,",
	"let eyes = skipList.keys().filter(k => k.startsWith(prefix));",
	"",
}

// sourceNoise returns n bytes of noise ending in a newline (n > 0), from a
// seed.
func sourceNoise(n int, seed int64) string {
	if n <= 0 {
		return ""
	}
	r := rand.New(rand.NewSource(seed))
	var b strings.Builder
	b.Grow(n + 200)
	for b.Len() < n {
		b.WriteString(sourceNoiseLines[r.Intn(len(sourceNoiseLines))])
		b.WriteByte('\n')
	}
	s := []byte(b.String()[:n])
	s[n-1] = '\n'
	return string(s)
}

// padded places text in a file of about size bytes (at least text and a
// line of noise) at the start, middle or end, and returns the file and the
// line text starts on.
func padded(text string, size int, where string, seed int64) (string, int) {
	room := max(size-len(text)-1, 80)
	switch where {
	case "start":
		return text + "\n" + sourceNoise(room, seed), 1
	case "middle":
		before := sourceNoise(room/2, seed)
		return before + text + "\n" + sourceNoise(room-room/2, seed+1), 1 + strings.Count(before, "\n")
	default:
		before := sourceNoise(room+1, seed)
		return before + text, 1 + strings.Count(before, "\n")
	}
}

// sampleName is the file a sample is scanned as: its own path if its rule
// needs one, else a file whose name asks for no format detector.
func sampleName(s gitleaksSample) string {
	if s.Path != "" {
		return s.Path
	}
	return "/srv/app/settings.conf"
}

// glHit is a finding as the differential tests compare them.
type glHit struct {
	Rule   string
	Line   int
	Secret string
}

func (h glHit) String() string { return fmt.Sprintf("%s line %d %q", h.Rule, h.Line, h.Secret) }

func hitsOf(fs []Finding) []glHit {
	out := make([]glHit, 0, len(fs))
	for _, f := range fs {
		out = append(out, glHit{f.RuleID, f.Line, f.Secret})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Secret < b.Secret
	})
	return out
}

// wholeFileOracle computes what ScanFile must report on a file: peel's
// own detectors' findings (an engine without gitleaks) and gitleaks' own
// detector's over the whole file, one finding kept per secret as dedupe
// keeps them, judged by the engine's policies.
type wholeFileOracle struct {
	e, own *Engine
	gl     *gitleaksDetector
}

func newWholeFileOracle(t testing.TB) *wholeFileOracle {
	t.Helper()
	e, err := DefaultEngine()
	if err != nil {
		t.Fatal(err)
	}
	own, err := NewEngine(EngineOptions{NoGitleaks: true})
	if err != nil {
		t.Fatal(err)
	}
	o := &wholeFileOracle{e: e, own: own}
	for _, d := range e.detectors {
		if gd, ok := d.(*gitleaksDetector); ok {
			o.gl = gd
		}
	}
	if o.gl == nil {
		t.Fatal("the default engine has no gitleaks detector")
	}
	return o
}

// want is what ScanFile must report on data.
func (o *wholeFileOracle) want(name string, data []byte) []Finding {
	var c Collector
	for _, f := range o.own.ScanFile(name, data).Findings {
		c.Add(f)
	}
	for _, f := range o.gl.gl.ScanWhole(name, data, nil) {
		r := o.gl.byID[f.RuleID]
		if notGitleaksSecret(f.RuleID, r, f.Secret) != "" {
			continue // as the detector dismisses it
		}
		c.Add(Finding{RuleID: r.ID, Severity: r.Severity, Line: f.Line, Secret: f.Secret})
	}
	r := c.finish()
	r.Findings = dedupe(r.Findings, o.e.specificity)
	o.e.judge(&File{Path: []string{name}, Data: data}, ScanOptions{}, &r)
	return r.Findings
}

// diffHits returns the hits of want missing from got, and those of got
// not in want.
func diffHits(got, want []glHit) (missing, extra []glHit) {
	count := map[glHit]int{}
	for _, h := range got {
		count[h]++
	}
	for _, h := range want {
		if count[h] > 0 {
			count[h]--
			continue
		}
		missing = append(missing, h)
	}
	for _, h := range got {
		if count[h] > 0 {
			count[h]--
			extra = append(extra, h)
		}
	}
	return missing, extra
}

// lostByGitleaks drops from extra the findings gitleaks reports on the
// sample alone (alone, at line 1; padded, at line at): gitleaks loses a
// few on the whole file, when a match of its generic rule that starts in
// the line before takes the sample's name as its secret (leftmost matches
// do not overlap), and peel's windows, which gate that line out, keep
// them. Any other extra finding is a difference.
func lostByGitleaks(extra []glHit, alone []Finding, at int) []glHit {
	own := map[glHit]bool{}
	for _, h := range hitsOf(alone) {
		h.Line += at - 1
		own[h] = true
	}
	return slices.DeleteFunc(extra, func(h glHit) bool { return own[h] })
}

// sampleSizes and samplePlaces are where TestGitleaksSamplesPadded puts
// samples: files past wholeFile, which peel scans by windows.
var (
	sampleSizes  = []int{gitleaks.WholeFile + 1, 16 << 10, 100 << 10}
	samplePlaces = []string{"start", "middle", "end"}
)

// placement is one padded file of a sample.
type placement struct {
	size  int
	where string
}

// samplePlacements chooses the files each sample goes into, by
// PEEL_SAMPLES:
//
//   - unset: the first two true and the first false positive of each
//     rule, at 4 KiB+1 in the three places and at 16 KiB in one (turn by
//     turn); under the race detector (make test), which slows gitleaks'
//     regexps tenfold, the first true positive of each rule at 4 KiB+1 in
//     one place;
//   - "all" (make windows): every sample, at 4 KiB+1 in the three
//     places, at 16 KiB in one, and every tenth at 100 KiB in one;
//   - "every": every sample at every size in every place.
//
// gitleaks' detector on the whole file is the cost (about 1.5 ms per KiB
// of this text: its generic rules' regexps run over all of it).
func samplePlacements(samples []gitleaksSample) [][]placement {
	mode := os.Getenv("PEEL_SAMPLES")
	out := make([][]placement, len(samples))
	seen := map[string][2]int{}
	for i, s := range samples {
		turn := samplePlaces[i%len(samplePlaces)]
		var p []placement
		switch mode {
		case "every":
			for _, size := range sampleSizes {
				for _, where := range samplePlaces {
					p = append(p, placement{size, where})
				}
			}
		case "all":
			for _, where := range samplePlaces {
				p = append(p, placement{sampleSizes[0], where})
			}
			p = append(p, placement{sampleSizes[1], turn})
			if i%10 == 0 {
				p = append(p, placement{sampleSizes[2], samplePlaces[(i/10)%len(samplePlaces)]})
			}
		case "":
			if raceEnabled {
				if s.Positive && seen[s.Rule][0] == 0 {
					seen[s.Rule] = [2]int{1, 0}
					p = append(p, placement{sampleSizes[0], samplePlaces[len(seen)%len(samplePlaces)]})
				}
				break
			}
			c := seen[s.Rule]
			k := 1
			if s.Positive {
				k = 0
			}
			if limit := [2]int{2, 1}[k]; c[k] >= limit {
				break
			}
			c[k]++
			seen[s.Rule] = c
			for _, where := range samplePlaces {
				p = append(p, placement{sampleSizes[0], where})
			}
			p = append(p, placement{sampleSizes[1], turn})
		}
		out[i] = p
	}
	return out
}

// TestGitleaksSamplesPadded puts samples of gitleaks' rule generators
// into files past wholeFile, at the start, middle and end of source-like
// text full of keywords (samplePlacements), and checks that ScanFile
// reports exactly what gitleaks' own detector reports on the whole file
// (with peel's own detectors' findings, one finding per secret): every
// rule fires through peel's windows as it does on the whole file. A second
// scan of each file must give the same findings in the same order.
func TestGitleaksSamplesPadded(t *testing.T) {
	samples := gitleaksSamples(t)
	o := newWholeFileOracle(t)
	// The noise alone is clean for both.
	for _, size := range sampleSizes {
		noise := []byte(sourceNoise(size, 1))
		if w := o.want("/srv/app/settings.conf", noise); len(w) > 0 {
			t.Fatalf("%d bytes of noise: gitleaks reports %v", size, hitsOf(w))
		}
	}
	plan := samplePlacements(samples)
	type miss struct {
		sample         int
		at             placement
		missing, extra []glHit
	}
	var (
		mu       sync.Mutex
		misses   []miss
		unstable []string
		files    int
		tested   = map[int]bool{}
		rules    = map[string]bool{}
	)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				s := samples[i]
				name := sampleName(s)
				for _, at := range plan[i] {
					text, line := padded(s.Text, at.size, at.where, int64(i))
					data := []byte(text)
					want := hitsOf(o.want(name, data))
					first := o.e.ScanFile(name, data).Findings
					again := o.e.ScanFile(name, data).Findings
					missing, extra := diffHits(hitsOf(first), want)
					extra = lostByGitleaks(extra, o.want(name, []byte(s.Text)), line)
					mu.Lock()
					files++
					tested[i] = true
					rules[s.Rule] = true
					if len(missing)+len(extra) > 0 {
						misses = append(misses, miss{i, at, missing, extra})
					}
					if !reflect.DeepEqual(first, again) {
						unstable = append(unstable, fmt.Sprintf("sample %d at %s of %d bytes: %v, then %v", i, at.where, at.size, first, again))
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range samples {
		if len(plan[i]) > 0 {
			jobs <- i
		}
	}
	close(jobs)
	wg.Wait()
	// A summary per rule, then the first few files in full.
	byRule := map[string][2]int{}
	for _, m := range misses {
		for _, h := range m.missing {
			c := byRule[h.Rule]
			c[0]++
			byRule[h.Rule] = c
		}
		for _, h := range m.extra {
			c := byRule[h.Rule]
			c[1]++
			byRule[h.Rule] = c
		}
	}
	ids := make([]string, 0, len(byRule))
	for id := range byRule {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var sum bytes.Buffer
	for _, id := range ids {
		fmt.Fprintf(&sum, "  %s: %d missing, %d extra\n", id, byRule[id][0], byRule[id][1])
	}
	sort.Slice(misses, func(i, j int) bool { return misses[i].sample < misses[j].sample })
	t.Logf("%d of %d samples (%d rules), %d files (PEEL_SAMPLES=%q): %d differ from gitleaks on the whole file, %d scan differently twice",
		len(tested), len(samples), len(rules), files, os.Getenv("PEEL_SAMPLES"), len(misses), len(unstable))
	if len(misses) > 0 {
		t.Errorf("per rule (findings):\n%s", sum.String())
		for k, m := range misses[:min(len(misses), 30)] {
			s := samples[m.sample]
			t.Errorf("%d. sample %d (%s, positive %v) at %s of %d bytes: missing %v, extra %v\n    %q", k+1, m.sample, s.Rule, s.Positive, m.at.where, m.at.size, m.missing, m.extra, s.Text)
		}
	}
	for _, u := range unstable[:min(len(unstable), 10)] {
		t.Errorf("two scans differ: %s", u)
	}
}
