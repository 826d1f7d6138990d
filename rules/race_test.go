//go:build race

package rules

// raceEnabled tells tests that the race detector slows them (gitleaks'
// regexps several times over).
const raceEnabled = true
