package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/peelscan/peel/internal/glob"
)

// Suppression says why a finding is not reported: an entry of the ignore
// file, or its presence in the baseline report.
type Suppression struct {
	Kind   string `json:"kind"`            // "ignore-file" or "baseline"
	Entry  string `json:"entry,omitempty"` // the ignore-file line that matched
	Reason string `json:"reason,omitempty"`
}

// Suppression kinds.
const (
	SuppressedByIgnoreFile = "ignore-file"
	SuppressedByBaseline   = "baseline"
)

// IgnoreFile is a parsed .peelignore: finding fingerprints and location
// globs, one per line, each with an optional "# reason".
type IgnoreFile struct {
	Name    string
	entries []ignoreEntry
}

type ignoreEntry struct {
	text        string
	fingerprint string
	glob        *regexp.Regexp
	reason      string
	line        int
}

var hexFingerprint = regexp.MustCompile(`^[0-9a-f]{32}$`)

// ParseIgnoreFile reads an ignore file. Each line is blank, a "#" comment,
// or an entry and an optional "  # reason": a 32-hex-digit finding
// fingerprint (as in the JSON report), or a glob over the location chain
// without its line ("*" stays within a path segment and an archive member,
// "**" crosses both, "?" is one character), such as /usr/share/doc/**,
// **!BOOT-INF/lib/*-tests.jar!** or "config Env DB_PASSWORD".
func ParseIgnoreFile(name string, r io.Reader) (*IgnoreFile, error) {
	f := &IgnoreFile{Name: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e := ignoreEntry{line: n}
		if i := strings.Index(line, " #"); i >= 0 {
			e.reason = strings.TrimSpace(line[i+2:])
			line = strings.TrimSpace(line[:i])
		}
		e.text = line
		if hexFingerprint.MatchString(line) {
			e.fingerprint = line
		} else {
			re, err := glob.Compile(line)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, n, err)
			}
			e.glob = re
		}
		f.entries = append(f.entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}

// match returns the suppression for a finding, or nil.
func (f *IgnoreFile) match(fd *Finding) *Suppression {
	if f == nil {
		return nil
	}
	loc := strings.Join(fd.Path, "!")
	for _, e := range f.entries {
		if e.fingerprint != "" && e.fingerprint == fd.Fingerprint || e.glob != nil && e.glob.MatchString(loc) {
			return &Suppression{Kind: SuppressedByIgnoreFile, Entry: fmt.Sprintf("%s:%d: %s", f.Name, e.line, e.text), Reason: e.reason}
		}
	}
	return nil
}

// Baseline is the set of finding fingerprints of an earlier peel JSON
// report: findings in it are known and neither reported nor failed on.
type Baseline struct {
	Name         string
	fingerprints map[string]bool
}

// LoadBaseline reads an earlier peel JSON report, for a scan whose
// fingerprints are made with key (none: by location). A report whose
// fingerprints were made otherwise (an older schema, another mode or
// another key) could match nothing, or the wrong findings: it is refused,
// saying how to regenerate it.
func LoadBaseline(name string, r io.Reader, key []byte) (*Baseline, error) {
	var rep Report
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, fmt.Errorf("%s: not a peel JSON report: %w", name, err)
	}
	switch {
	case rep.Schema == "peel-report/v1":
		return nil, fmt.Errorf("%s: a peel-report/v1 report, whose fingerprints hash the secret itself; this peel writes %s, whose fingerprints do not: regenerate the baseline with this version of peel", name, Schema)
	case rep.Schema != Schema:
		return nil, fmt.Errorf("%s: not a peel JSON report (schema %q, want %q)", name, rep.Schema, Schema)
	}
	now := fingerprintsOf(key)
	switch was := rep.Fingerprints; {
	case was.Mode == now.Mode && was.KeyID == now.KeyID:
	case was.Mode == FingerprintsKeyed && now.Mode == FingerprintsByLocation:
		return nil, fmt.Errorf("%s: its fingerprints were made with a fingerprint key (key id %s) and this scan has none: scan with the same key, or regenerate the baseline without one", name, was.KeyID)
	case was.Mode == FingerprintsByLocation && now.Mode == FingerprintsKeyed:
		return nil, fmt.Errorf("%s: its fingerprints were made without a fingerprint key and this scan has one (key id %s): scan without it, or regenerate the baseline with it", name, now.KeyID)
	case was.Mode == FingerprintsKeyed:
		return nil, fmt.Errorf("%s: its fingerprints were made with another fingerprint key (key id %s; this scan's is %s): scan with that key, or regenerate the baseline with this one", name, was.KeyID, now.KeyID)
	default:
		return nil, fmt.Errorf("%s: unknown fingerprint mode %q", name, was.Mode)
	}
	b := &Baseline{Name: name, fingerprints: map[string]bool{}}
	for _, img := range rep.Images {
		for _, f := range img.Findings {
			b.fingerprints[f.Fingerprint] = true
		}
		for _, f := range img.Suppressed {
			b.fingerprints[f.Fingerprint] = true
		}
	}
	return b, nil
}

func (b *Baseline) match(fd *Finding) *Suppression {
	if b == nil || !b.fingerprints[fd.Fingerprint] {
		return nil
	}
	return &Suppression{Kind: SuppressedByBaseline, Reason: "in the baseline " + b.Name}
}
