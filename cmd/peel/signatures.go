package main

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/peelscan/peel/scanner"
	"github.com/peelscan/peel/scanner/signature"
)

// signatureOptions holds the flags of image signatures.
type signatureOptions struct {
	verifyKeys []string
	notation   string
	require    bool
	none       bool
}

func (o *signatureOptions) register(f *pflag.FlagSet) {
	f.StringArrayVar(&o.verifyKeys, "verify-key", nil, "a cosign public key (PEM, cosign.pub) to verify cosign signatures with, offline (repeatable)")
	f.StringVar(&o.notation, "notation-config", "", "a Notation configuration directory (trustpolicy.json or trustpolicy.oci.json, truststore/x509/…, as in ~/.config/notation) to verify Notation signatures with")
	f.BoolVar(&o.require, "require-signature", false, "make an image without a signature that verifies (with --verify-key or --notation-config) a finding of rule unsigned-image (high)")
	f.BoolVar(&o.none, "no-signatures", false, "do not look up the signatures of registry and OCI layout images")
}

// apply loads the keys and the trust policy into the scan's options. A
// key or policy that does not load is a bad flag.
func (o *signatureOptions) apply(scan *scanner.Options) error {
	switch {
	case o.none && (o.require || len(o.verifyKeys) > 0 || o.notation != ""):
		return errors.New("bad flag: --no-signatures excludes --require-signature, --verify-key and --notation-config")
	case o.none:
		return nil
	case o.require && len(o.verifyKeys) == 0 && o.notation == "":
		return errors.New("bad flag: --require-signature needs --verify-key or --notation-config: a signature nobody verifies proves nothing")
	}
	var opts signature.Options
	for _, p := range o.verifyKeys {
		k, err := signature.LoadKey(p)
		if err != nil {
			return fmt.Errorf("bad flag: --verify-key %s: %w", p, err)
		}
		opts.Keys = append(opts.Keys, k)
	}
	if o.notation != "" {
		n, err := signature.LoadNotation(o.notation)
		if err != nil {
			return fmt.Errorf("bad flag: --notation-config: %w", err)
		}
		opts.Notation = n
	}
	scan.Signatures = signature.New(opts)
	scan.RequireSignature = o.require
	return nil
}
