package rules

// Finding is one secret found in one file. Lines are 1-based and 0 when the
// finding concerns the whole file (a keystore).
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

func newFinding(ruleID string, line int, key, secret string) Finding {
	r := catalogue[ruleID]
	return Finding{RuleID: ruleID, Severity: r.Severity, Line: line, Key: key, Secret: secret}
}
