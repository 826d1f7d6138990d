package rules

import (
	"context"
	"path"
	"strings"
)

// File is what a detector reads: a file's location chain and its bytes. The
// chain is the file's path, then each archive member inside it, innermost
// last: "/app.jar", "BOOT-INF/lib/x.jar", "application.yml". rules knows
// nothing of images: a chain is only names.
type File struct {
	Path []string
	Data []byte
}

// Name is the innermost name of the chain, with its directories
// ("BOOT-INF/classes/application.yml"): what names the file's format.
func (f *File) Name() string { return innermost(f.Path) }

func innermost(chain []string) string {
	if len(chain) == 0 {
		return ""
	}
	return chain[len(chain)-1]
}

// Applies runs for every file and every detector: these compare names
// ignoring case without lower-casing them (which allocates for every name
// with a capital in it).

// fileName is the file name of a chain's innermost member, and dirName the
// directory it sits in.
func fileName(chain []string) string { return path.Base(innermost(chain)) }
func dirName(chain []string) string  { return path.Dir(innermost(chain)) }

// isName reports whether name is one of names, ignoring case.
func isName(name string, names ...string) bool {
	for _, n := range names {
		if strings.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// hasSuffixFold and hasPrefixFold are strings.HasSuffix and HasPrefix
// ignoring case.
func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// Info describes a detector or a verifier.
type Info struct {
	Name string
	// Version is raised whenever what it reports changes in a way its
	// rules and examples do not show (the engine's version, which keys
	// cached results, hashes both).
	Version int
	// Format says a detector reads a file's syntax (properties, YAML, …):
	// a file is read by the first format detector of the registry that
	// applies to it, and by every detector that is not one.
	Format bool
	// Rules are the rules it reports, each with its examples.
	Rules []Rule
}

// Detector finds secrets in files. It declares its rules, tells cheaply
// (by the file's location chain alone) whether a file is for it, and
// reports what it finds into a Collector: findings, the candidates it
// dismissed and why, and what it could not read.
type Detector interface {
	Info() Info
	Applies(path []string) bool
	Detect(f *File, c *Collector)
}

// Command is a command line the image records: a build step's created_by,
// or the image's entrypoint and command.
type Command struct {
	Line       string
	Entrypoint bool // the image config's Entrypoint and Cmd, not a build step
}

// commandReader is a detector that also reads command lines
// (Engine.ScanCommand, Engine.ScanEntrypoint).
type commandReader interface {
	DetectCommand(cmd Command, c *Collector)
}

// assignmentReader is a detector that also reads image config entries,
// KEY=VALUE (Engine.ScanAssignment).
type assignmentReader interface {
	DetectAssignment(key, value string, c *Collector)
}

// Verifier proves findings live once a whole image or tree has been read.
// While the walk runs, it asks for the files it needs whole, by their first
// bytes; afterwards it tries what was found on them. It reports new
// records rather than changing the findings it was given.
type Verifier interface {
	Info() Info
	// Wants tells from a file's first bytes (512, or all of a shorter
	// file) whether the verifier needs all of it.
	Wants(head []byte) bool
	// Keep reads a wanted file of size bytes through read, which returns
	// at most max bytes, and checks it: an error says why it cannot be
	// verified (too large, unreadable, malformed), to be reported as
	// incomplete, and the file is not kept.
	Keep(size int64, read func(max int64) ([]byte, error)) ([]byte, error)
	// Verify tries the findings on the kept files.
	Verify(ctx context.Context, findings []Located, kept []File) []Verification
}

// Located is a finding with the location chain of its file.
type Located struct {
	Finding
	Path []string
}

// Verification is what a verifier proved, or could not, about one kept
// file.
type Verification struct {
	File int // index of the file in the kept files
	// Finding is what the file is reported as (a keystore that opens, or
	// that holds private keys); nil when it is no finding.
	Finding *Finding
	// Dismissal says why the file is no finding, when it is not (a trust
	// store).
	Dismissal *Dismissal
	// Incomplete lists what could not be tried on the file.
	Incomplete []Incomplete
	// Opened says a secret opened the file; By names where that secret
	// was found: a location, or "default password list".
	Opened bool
	By     string
	// Proves lists the findings (indexes into those verified) whose secret
	// opens the file: they are verified, at Severity.
	Proves   []int
	Severity Severity
	// Type and Aliases describe the file: its format ("JKS") and the names
	// of its private keys.
	Type    string
	Aliases []string
}
