package rules

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

// Result is what the detectors made of one file.
type Result struct {
	Findings  []Finding
	Dismissed []Dismissal
	// Err reports input that did not parse; findings made before it stay.
	Err error
}

func newFinding(ruleID string, line int, key, secret string) Finding {
	r := catalogue[ruleID]
	return Finding{RuleID: ruleID, Severity: r.Severity, Line: line, Key: key, Secret: secret}
}

// collector gathers one file's findings, dismissals and keystore references
// as the detectors walk it.
type collector struct {
	Result
	refs []keyRef
}

func (c *collector) add(f Finding) { c.Findings = append(c.Findings, f) }

func (c *collector) dismiss(ruleID string, line int, key, reason string) {
	c.Dismissed = append(c.Dismissed, Dismissal{RuleID: ruleID, Line: line, Key: key, Reason: reason})
}

func (c *collector) fail(err error) {
	if c.Err == nil {
		c.Err = err
	}
}

// keyValue judges one configuration entry: a secret-named key with a
// literal value is a finding, with another value a dismissal; a value that
// names a keystore file is remembered to link passwords to keystores.
func (c *collector) keyValue(ruleID, key, value string, line int) {
	if !IsSecretKey(key) {
		if path, ok := keystoreRef(value); ok {
			c.refs = append(c.refs, keyRef{key, path})
		}
		return
	}
	secret, id, ok, reason := ClassifyValue(value)
	if !ok {
		c.dismiss(ruleID, line, key, reason)
		return
	}
	if id == RuleConfigSecret {
		id = ruleID
	}
	c.add(newFinding(id, line, key, secret))
}

// finish links passwords to the keystores their file names.
func (c *collector) finish() Result {
	linkRefs(c.Findings, c.refs)
	return c.Result
}
