package rules

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"golang.org/x/text/encoding/unicode"
)

// Rule describes one kind of finding: what it means, how to fix it, what
// it is (Kind) and how much its detector knows of it (Specificity), and
// the inputs it must fire on and must stay quiet on (Examples).
type Rule struct {
	ID          string   // stable identifier, used in reports and ignore files
	Title       string   // one line: what was found
	Description string   // why it matters
	Remediation string   // one line: what to do about it
	Severity    Severity // default severity; verification can raise it
	Kind        Kind
	Specificity Specificity
	// Examples are checked by the catalogue's test: every rule of peel's
	// own has at least one that fires and one that stays quiet.
	Examples []Example `json:",omitempty"`
}

// Kind says what a finding's secret is, for whoever acts on it: verifiers
// (a keystore verifier tries passwords), and reports (a private key's Key
// names the key's type, not a setting).
type Kind int

// Kinds of secrets.
const (
	// KindSecret is a secret of no known kind: a generic high-entropy
	// string, a team's own gitleaks rule.
	KindSecret Kind = iota
	// KindPassword is a value someone configured for a secret-named
	// setting, a URL or a command line: it may be any password, so
	// verifiers try it on keystores.
	KindPassword
	// KindToken is a credential a service issued: a provider's API key, a
	// registry's auth entry.
	KindToken
	// KindPrivateKey is private key material; the finding's Key names the
	// key's type (OPENSSH PRIVATE KEY, role root).
	KindPrivateKey
	// KindKeystore is a keystore holding private keys.
	KindKeystore
	// KindSignature is an image without a signature that verifies; the
	// finding's Key says what is missing (signature.go).
	KindSignature
)

var kindNames = [...]string{"secret", "password", "token", "private-key", "keystore", "signature"}

// String returns the kind's lower-case name.
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return kindNames[k]
}

// MarshalText writes the kind's name.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Specificity ranks how much a rule knows about what it matched. When two
// rules hit the same bytes the more specific one's finding stays.
type Specificity int

// Specificities from least to most.
const (
	// SpecificityEntropy knows only that a string looks random
	// (gitleaks' generic rule).
	SpecificityEntropy Specificity = iota
	// SpecificityKeyName knows that the setting's name says secret
	// (peel's configuration rules).
	SpecificityKeyName
	// SpecificityIssuer knows who issued the secret (gitleaks' provider
	// rules, a registry's configuration).
	SpecificityIssuer
	// SpecificityParsed parsed the thing itself: a key, a keystore, a
	// registry auth entry.
	SpecificityParsed
)

// Example is an input a rule is checked against, as gitleaks' rule
// generators check theirs: what is read, and every finding the engine must
// report in it, no more.
type Example struct {
	// Source says what Text is: a file's content (the default), a build
	// step's command line, the image's entrypoint, or an image config
	// entry written KEY=VALUE.
	Source Source `json:",omitempty"`
	// Path is a file's location chain, archive members joined by "!":
	// "/app.jar!BOOT-INF/classes/application.yml".
	Path string `json:",omitempty"`
	Text string
	// Want lists every finding, in order; none means the input must stay
	// quiet. A Want without a Rule is of the rule the example belongs to.
	Want []Want `json:",omitempty"`
}

// Source is what an Example's text is.
type Source int

// Sources of examples.
const (
	SourceFile       Source = iota // a file (Engine.Scan)
	SourceCommand                  // a build step (Engine.ScanCommand)
	SourceEntrypoint               // the image's entrypoint and command (Engine.ScanEntrypoint)
	SourceEnv                      // an image config entry, KEY=VALUE (Engine.ScanAssignment)
	SourceSignatures               // an image's signature status, as JSON (Engine.JudgeSignatures)
)

// Want is a finding an example must yield.
type Want struct {
	Rule     string `json:",omitempty"`
	Line     int
	Key      string
	Secret   string
	Severity Severity `json:",omitempty"` // checked when set
}

// Fires reports whether the example yields a finding of rule.
func (x Example) Fires(rule string) bool {
	for _, w := range x.Want {
		if w.Rule == "" || w.Rule == rule {
			return true
		}
	}
	return false
}

// Helpers that keep the detectors' example tables short.

// file is an example file at path (members joined by "!").
func file(path, text string, want ...Want) Example {
	return Example{Path: path, Text: text, Want: want}
}

func command(text string, want ...Want) Example {
	return Example{Source: SourceCommand, Text: text, Want: want}
}

func entrypoint(text string, want ...Want) Example {
	return Example{Source: SourceEntrypoint, Text: text, Want: want}
}

func env(kv string, want ...Want) Example {
	return Example{Source: SourceEnv, Text: kv, Want: want}
}

// utf16 is text as a Windows tool saves it: UTF-16 with a byte order mark,
// little endian (or big, with be).
func utf16(text string, be bool) string {
	order := unicode.LittleEndian
	if be {
		order = unicode.BigEndian
	}
	out, err := unicode.UTF16(order, unicode.UseBOM).NewEncoder().String(text)
	if err != nil {
		panic(err) // not reached: every string encodes
	}
	return out
}

// at is a finding of the example's own rule.
func at(line int, key, secret string) Want { return Want{Line: line, Key: key, Secret: secret} }

// of makes w a finding of another rule.
func (w Want) of(rule string) Want { w.Rule = rule; return w }

// with gives a rule its examples.
func (r Rule) with(examples ...Example) Rule {
	r.Examples = examples
	return r
}

const rotate = "Remove it from the image (and from every earlier layer: a later deletion does not erase it), provide it at run time as a mounted secret or an environment variable set at docker run, and revoke it."

const externalize = "Externalize it as the v2 image does: keep the config file out of the image, point SPRING_CONFIG_LOCATION at a file mounted at run time, write the value as ${VAR} and pass it with docker run -e; then rotate it."

// Rules that several detectors report, each with examples of its own.
const (
	RuleConfigSecret        = "config-secret"
	RuleConfigSecretDefault = "config-secret-default"
)

var configSecret = Rule{
	ID:          RuleConfigSecret,
	Title:       "Plaintext secret in configuration",
	Description: "A configuration key that names a secret (password, secret, token, credentials, private key, ...) has a literal value. Anyone who pulls the image can read it.",
	Remediation: externalize,
	Severity:    SeverityHigh,
	Kind:        KindPassword,
	Specificity: SpecificityKeyName,
}

var configSecretDefault = Rule{
	ID:          RuleConfigSecretDefault,
	Title:       "Secret baked in as a placeholder default",
	Description: "A placeholder such as ${VAR:fallback} carries a literal default: when the variable is unset the baked-in value is used, and anyone who pulls the image can read it.",
	Remediation: "Drop the default (${VAR} alone) so the value must come from the environment at run time; then rotate it.",
	Severity:    SeverityHigh,
	Kind:        KindPassword,
	Specificity: SpecificityKeyName,
}

// catalogue holds peel's own rules, as its detectors and verifiers declare
// them; a rule that several declare has the examples of all of them.
var catalogue = sync.OnceValue(func() map[string]Rule {
	out := map[string]Rule{}
	for _, info := range infos() {
		for _, r := range info.Rules {
			if prev, ok := out[r.ID]; ok {
				r.Examples = append(append([]Example(nil), prev.Examples...), r.Examples...)
			}
			out[r.ID] = r
		}
	}
	return out
})

// infos describes every detector and verifier of the registry.
func infos() []Info {
	var out []Info
	for _, d := range detectors {
		out = append(out, d.Info())
	}
	for _, v := range verifiers {
		out = append(out, v(EngineOptions{}).Info())
	}
	return out
}

// Lookup returns peel's rule with the given ID and whether it exists.
func Lookup(id string) (Rule, bool) {
	r, ok := catalogue()[id]
	return r, ok
}

// All returns peel's rules, sorted by ID.
func All() []Rule {
	out := make([]Rule, 0, len(catalogue()))
	for _, r := range catalogue() {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// newFinding is a finding of one of peel's rules, at its default severity.
func newFinding(ruleID string, line int, key, secret string) Finding {
	r := catalogue()[ruleID]
	return Finding{RuleID: ruleID, Severity: r.Severity, Line: line, Key: key, Secret: secret}
}

// splitPath turns an example's path into a location chain.
func splitPath(p string) []string { return strings.Split(p, "!") }
