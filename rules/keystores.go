package rules

import "github.com/peelscan/peel/rules/keystore"

// KeystoreFinding turns an inspected keystore, after Open, into a finding:
// verified when a password opened it, unverified when not. A store that
// holds no keys (a trust store such as the JDK's cacerts) gives ok=false.
func KeystoreFinding(k *keystore.Store) (Finding, bool) {
	if !k.HoldsKeys() {
		return Finding{}, false
	}
	if k.Opened {
		return newFinding(RuleKeystoreVerified, 0, "", k.Password), true
	}
	return newFinding(RuleKeystorePrivateKey, 0, "", ""), true
}
