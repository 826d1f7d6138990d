package rules

// detectors is the registry of peel's own detectors, in the order they run
// (gitleaks', which depends on the engine's config, runs after them). The
// format detectors come first, in precedence order: the first that applies
// to a file reads it. A new detector is a file of its own and a line here.
var detectors = []Detector{
	propertiesFiles{},
	yamlFiles{},
	npmrc{},
	keyValue{},
	xmlFiles{},
	jsonFiles{},
	netrc{},
	pgpass{},
	buildCommands{},
	imageConfig{},
	privateKeys{},
	urlCredentials{},
	signingKeys{},
	signatureGate{},
}

// verifiers builds the engine's verifiers from its options.
var verifiers = []func(EngineOptions) Verifier{
	newKeystoreVerifier,
	newSigningKeyVerifier,
}
