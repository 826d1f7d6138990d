// Package rules decides whether bytes hold a secret. It knows file names and
// file contents, never images or layers: the scanner hands it one file at a
// time, as a location chain (the file, then each archive member it sits
// in) and its bytes, and gets back findings with line numbers relative to
// that file, the candidates dismissed and why, and what could not be read.
//
// Detection is made of units. A Detector (one file each: properties.go,
// yaml.go, keyvalue.go, xml.go, json.go, netrc.go, pgpass.go,
// privatekey.go, url.go, command.go, imageconfig.go, signingkeys.go,
// signature.go, gitleaks.go) declares
// its rules, each with the inputs it must fire on and must stay quiet on;
// says from the location chain alone whether a file is for it; and reports
// into a Collector. The registry (registry.go) lists them in the order they
// run. The Engine runs them, keeps one finding per secret per line (the
// rule's Specificity decides), and applies the policies (policy.go) that
// dismiss findings by where their file sits. A Verifier (keystores.go,
// signingkeyverifier.go) keeps the files it needs during a walk and, once
// every finding is known, proves some of them live: a keystore or a cosign
// key that opens with a password found elsewhere. signature.go judges an
// image's signature status when signatures are required. Rule metadata (Kind, Specificity) is what callers read, never
// rule IDs.
//
// gitleaks' catalogue runs behind rules/internal/gitleaks, the only package
// that imports gitleaks; the keyword DFA and line helpers are in
// rules/internal/textscan; the keystore readers in rules/keystore.
package rules
