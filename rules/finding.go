package rules

import (
	"fmt"
	"strconv"
	"strings"
)

// Finding is one secret found in one file. Lines are 1-based and 0 when the
// finding concerns the whole file (a keystore, a key file).
type Finding struct {
	RuleID   string
	Severity Severity
	Line     int
	Key      string // the configuration key that holds the secret, if any
	Secret   string // the secret itself, unredacted; reports redact it
	// Refers lists the keystore paths that sibling keys of the same file
	// name for this secret (server.ssl.key-store beside
	// server.ssl.key-store-password), as written in the file.
	Refers []string
}

// Dismissal is a candidate a detector looked at and chose not to report,
// with the reason, so that every suppression can be explained.
type Dismissal struct {
	RuleID string // the rule that would have fired
	Line   int
	Key    string
	Reason string
}

// Incomplete is a part of a file a detector could not read (a document
// that does not parse): what it says there is unknown, and reports say
// so.
type Incomplete struct {
	Line   int // where reading stopped, 0 if not known
	Reason string
}

// Result is what the detectors made of one file.
type Result struct {
	Findings   []Finding
	Dismissed  []Dismissal
	Incomplete []Incomplete
}

// FormatLocation joins a location chain and a line as people read them:
// members with "!", the line after ":" when there is one:
// /app.jar!BOOT-INF/classes/application.properties:3.
func FormatLocation(path []string, line int) string {
	s := strings.Join(path, "!")
	if line > 0 {
		s += ":" + strconv.Itoa(line)
	}
	return s
}

// Collector gathers what the detectors make of one input: findings, the
// candidates they dismissed and why, what they could not read, and the
// keystore paths settings name (to link passwords to keystores). A
// Collector is used by one goroutine.
type Collector struct {
	res  Result
	refs []keyRef
	// Candidates past rawPerFile, not kept.
	droppedFindings, droppedDismissals int
}

// Add records a finding.
func (c *Collector) Add(f Finding) {
	if len(c.res.Findings) >= rawPerFile {
		c.droppedFindings++
		return
	}
	c.res.Findings = append(c.res.Findings, f)
}

// Dismiss records a candidate that is not reported, and why.
func (c *Collector) Dismiss(ruleID string, line int, key, reason string) {
	if len(c.res.Dismissed) >= rawPerFile {
		c.droppedDismissals++
		return
	}
	c.res.Dismissed = append(c.res.Dismissed, Dismissal{RuleID: ruleID, Line: line, Key: key, Reason: reason})
}

// capResult keeps the first MaxFindingsPerFile findings and dismissals of
// a file's merged result, reporting what it cuts (with the candidates the
// collector did not keep): findings as a gap in the scan, dismissals as a
// last entry that counts the rest.
func capResult(r *Result, droppedFindings, droppedDismissals int) {
	if n := len(r.Findings) - MaxFindingsPerFile + droppedFindings; n > 0 {
		r.Findings = r.Findings[:min(len(r.Findings), MaxFindingsPerFile)]
		r.Incomplete = append(r.Incomplete, Incomplete{Reason: fmt.Sprintf(
			"more than %d findings in this file: %d more candidates were not reported", MaxFindingsPerFile, n)})
	}
	if n := len(r.Dismissed) - MaxFindingsPerFile + droppedDismissals; n > 0 {
		r.Dismissed = append(r.Dismissed[:min(len(r.Dismissed), MaxFindingsPerFile)],
			Dismissal{Reason: fmt.Sprintf("and %d more candidates dismissed in this file, not listed", n)})
	}
}

// Incomplete records a part of the input that could not be read, and what
// that left unread.
func (c *Collector) Incomplete(line int, reason string) {
	c.res.Incomplete = append(c.res.Incomplete, Incomplete{Line: line, Reason: reason})
}

// KeyValue judges one configuration entry: a secret-named key with a
// literal value that can be its secret (ClassifyKeyValue) is a finding of
// ruleID (or of config-secret-default for a
// placeholder's literal default), with another value a dismissal; a value
// that names a keystore file is remembered, to link the file's passwords
// to that keystore.
func (c *Collector) KeyValue(ruleID, key, value string, line int) {
	if !IsSecretKey(key) {
		if path, ok := keystoreRef(value); ok {
			c.refs = append(c.refs, keyRef{key, path})
		}
		return
	}
	secret, id, ok, reason := ClassifyKeyValue(key, value)
	if !ok {
		c.Dismiss(ruleID, line, key, reason)
		return
	}
	if id == RuleConfigSecret {
		id = ruleID
	}
	c.Add(newFinding(id, line, key, secret))
}

// finish links passwords to the keystores their file names.
func (c *Collector) finish() Result {
	linkRefs(c.res.Findings, c.refs)
	return c.res
}
