package scanner

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/peelscan/peel/rules"
)

// Scanner scans images and filesystems with one set of Options. It is safe
// for concurrent use.
type Scanner struct {
	opts Options
}

// New returns a Scanner; zero fields of opts take their defaults.
func New(opts Options) *Scanner { return &Scanner{opts: opts.withDefaults()} }

func (s *Scanner) engine() (*rules.Engine, error) {
	if s.opts.Engine != nil {
		return s.opts.Engine, nil
	}
	return rules.DefaultEngine()
}

func (s *Scanner) newWalker(e *rules.Engine, layer int, b *budget) *walker {
	return &walker{opts: s.opts, engine: e, layer: layer, budget: b}
}

func (s *Scanner) newBudget() *budget {
	b := &budget{}
	b.left.Store(s.opts.MaxTotalInflate)
	return b
}

// result hands the walker's collections over as a LayerResult.
func (w *walker) result() *LayerResult {
	return &LayerResult{
		Findings: w.findings, Keystores: w.keystores, Incomplete: w.incomplete, Dismissed: w.dismissed,
		Whiteouts: w.whiteouts, Opaque: w.opaque, Stats: w.stats,
	}
}

// ScanPath scans a directory tree, or a single file (a jar, a keystore, a
// properties file). Symbolic links are not followed. Locations are the
// files' paths as reached from root, so they can be opened as printed.
func (s *Scanner) ScanPath(ctx context.Context, root string) (*Result, error) {
	engine, err := s.engine()
	if err != nil {
		return nil, err
	}
	info, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	w := s.newWalker(engine, 0, s.newBudget())
	visitFile := func(p, name string) error {
		f, err := os.Open(p)
		if err != nil {
			w.skip([]string{name}, "opening: %v", err)
			return nil
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() {
			return nil
		}
		w.stats.Bytes += st.Size()
		return w.visit(ctx, []string{name}, st.Size(), f, f, 0)
	}
	if !info.IsDir() {
		if err := visitFile(root, filepath.ToSlash(root)); err != nil {
			return nil, err
		}
	} else {
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				w.skip([]string{filepath.ToSlash(p)}, "%v", err)
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			return visitFile(p, filepath.ToSlash(p))
		})
		if err != nil {
			return nil, err
		}
	}
	res := &Result{}
	s.merge(res, engine, []*LayerResult{w.result()})
	return res, nil
}

// merge gathers the layers' results in layer order, verifies keystores
// against every password found, and sorts the findings.
func (s *Scanner) merge(res *Result, engine *rules.Engine, results []*LayerResult) {
	var files []KeystoreFile
	for _, r := range results {
		res.Findings = append(res.Findings, r.Findings...)
		res.Incomplete = append(res.Incomplete, r.Incomplete...)
		res.Dismissed = append(res.Dismissed, r.Dismissed...)
		res.Stats.add(r.Stats)
		files = append(files, r.Keystores...)
	}
	found, skipped, trustOnly := verifyKeystores(res.Findings, files)
	res.Findings = append(res.Findings, found...)
	res.Incomplete = append(res.Incomplete, skipped...)
	if s.opts.Explain {
		res.Dismissed = append(res.Dismissed, trustOnly...)
	}
	res.Rules = map[string]rules.Rule{}
	for _, f := range res.Findings {
		if r, ok := engine.Rule(f.RuleID); ok {
			res.Rules[f.RuleID] = r
		}
	}
	sort.SliceStable(res.Findings, func(i, j int) bool {
		a, b := &res.Findings[i], &res.Findings[j]
		if a.Layer != b.Layer {
			return a.Layer < b.Layer
		}
		if la, lb := strings.Join(a.Path, "!"), strings.Join(b.Path, "!"); la != lb {
			return la < lb
		}
		return a.Line < b.Line
	})
}

// verifyKeystores tries the passwords found in config (preferring, for each
// keystore, the passwords whose config names that keystore) and the default
// passwords on every keystore, and returns the keystore findings. Password
// findings that open a keystore are marked verified and list it in Opens.
func verifyKeystores(findings []Finding, files []KeystoreFile) ([]Finding, []Incomplete, []Dismissed) {
	var (
		out       []Finding
		skipped   []Incomplete
		trustOnly []Dismissed
	)
	// The passwords to try, once for all keystores; those whose config
	// names a keystore file are put first for that keystore.
	var all []rules.PasswordCandidate
	var naming []int // indexes into findings of passwords with keystore paths
	for i := range findings {
		f := &findings[i]
		if !passwordRules[f.RuleID] {
			continue
		}
		all = append(all, rules.PasswordCandidate{Password: f.Secret, Source: f.Location()})
		if len(f.Refers) > 0 {
			naming = append(naming, i)
		}
	}
	work := keystoreWork
	for _, kf := range files {
		ks, err := rules.InspectKeystore(kf.Data)
		if err != nil || ks == nil {
			continue // the walker reported it as incomplete
		}
		if work > 0 {
			// Each try hashes the whole store: the scan's tries share a
			// budget of bytes, so that many large stores and many
			// passwords cannot stall it.
			cands := all
			var preferred []rules.PasswordCandidate
			for _, i := range naming {
				if refersTo(findings[i].Refers, kf.Path) {
					preferred = append(preferred, rules.PasswordCandidate{Password: findings[i].Secret, Source: findings[i].Location()})
				}
			}
			if len(preferred) > 0 {
				cands = append(preferred, all...) // Open skips the repeats
			}
			tries := int(min(work/int64(max(len(kf.Data), 1)), 1<<20))
			if len(cands) > tries {
				skipped = append(skipped, Incomplete{Path: kf.Path, Layer: kf.Layer,
					Reason: fmt.Sprintf("%d of the passwords found were not tried on this keystore: the scan's keystore verification budget is used up", len(cands)-tries)})
				cands = cands[:tries]
			}
			work = max(0, work-int64(len(cands)+len(rules.DefaultPasswords))*int64(len(kf.Data)))
			ks.Open(cands)
		} else {
			skipped = append(skipped, Incomplete{Path: kf.Path, Layer: kf.Layer,
				Reason: "not verified: the scan's keystore verification budget is used up"})
		}
		if ks.Untried > 0 {
			skipped = append(skipped, Incomplete{Path: kf.Path, Layer: kf.Layer,
				Reason: fmt.Sprintf("%d password(s) not tried: the keystore's key-derivation cost used up its work budget", ks.Untried)})
		}
		rf, ok := rules.KeystoreFinding(ks)
		if !ok {
			reason := ks.Type.String() + " trust store: no private keys"
			if ks.Opened {
				reason += " (opens with the password from " + ks.Source + ")"
			}
			trustOnly = append(trustOnly, Dismissed{Path: kf.Path, Layer: kf.Layer, RuleID: rules.RuleKeystorePrivateKey, Reason: reason})
			continue
		}
		out = append(out, Finding{
			Finding:      rf,
			Path:         kf.Path,
			Layer:        kf.Layer,
			Verified:     ks.Opened,
			VerifiedBy:   ks.Source,
			KeystoreType: ks.Type.String(),
			Aliases:      ks.PrivateKeyAliases(),
		})
		if !ks.Opened {
			continue
		}
		for i := range findings {
			f := &findings[i]
			if passwordRules[f.RuleID] && f.Secret == ks.Password {
				f.Verified = true
				f.Severity = rules.SeverityCritical
				f.Opens = append(f.Opens, FormatLocation(kf.Path, 0))
			}
		}
	}
	return out, skipped, trustOnly
}

// keystoreWork bounds the bytes hashed verifying keystores in one scan.
var keystoreWork int64 = 8 << 30

// passwordRules are the rules whose secrets are tried on keystores.
var passwordRules = map[string]bool{
	rules.RuleConfigSecret: true, rules.RuleConfigSecretDefault: true, rules.RuleURLCredentials: true,
	rules.RuleBuildSecret: true, rules.RuleImageConfigSecret: true,
}

// refersTo reports whether one of a config file's keystore paths names the
// keystore at chain: an absolute path names the file in the layer; a
// relative or classpath: one names a member or file ending with it.
func refersTo(refs []string, chain []string) bool {
	for _, r := range refs {
		r = strings.TrimPrefix(strings.TrimPrefix(r, "file:"), "classpath:")
		if r == "" {
			continue
		}
		if strings.HasPrefix(r, "/") {
			if len(chain) == 1 && chain[0] == path.Clean(r) {
				return true
			}
			continue
		}
		last := "/" + chain[len(chain)-1]
		if strings.HasSuffix(last, "/"+strings.TrimPrefix(path.Clean(r), "./")) {
			return true
		}
	}
	return false
}

// markDeleted sets DeletedInLayer on findings whose file a later layer
// deletes with a whiteout (.wh.NAME) or hides under an opaque directory.
func markDeleted(findings []Finding, layers []*LayerResult) {
	for i := range findings {
		f := &findings[i]
		p := f.Path[0]
		if f.Layer == 0 || !strings.HasPrefix(p, "/") {
			continue
		}
		for j := f.Layer; j < len(layers); j++ {
			if layers[j].deletes(p) {
				f.DeletedInLayer = j + 1
				break
			}
		}
	}
}

func (r *LayerResult) deletes(p string) bool {
	for _, d := range r.Whiteouts {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	for _, d := range r.Opaque {
		if strings.HasPrefix(p, d+"/") || d == "/" {
			return true
		}
	}
	return false
}
