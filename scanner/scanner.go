package scanner

import (
	"context"
	"io/fs"
	"os"
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
	if s.opts.skipErr != nil {
		return nil, s.opts.skipErr
	}
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
		f, err := openNoWait(p) // a FIFO swapped in is opened, seen and skipped, not waited on
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
		err = w.visit(ctx, []string{name}, st.Size(), f, f, 0)
		s.filesRead(w.stats.Files, w.stats.Bytes)
		return err
	}
	if !info.IsDir() {
		if err := visitFile(root, filepath.ToSlash(root)); err != nil {
			return nil, err
		}
	} else {
		// Links are followed only to files inside the directory.
		realRoot, err := filepath.Abs(root)
		if err == nil {
			realRoot, err = filepath.EvalSymlinks(realRoot)
		}
		if err != nil {
			return nil, err
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				w.skip([]string{filepath.ToSlash(p)}, "%v", err)
				return nil
			}
			if d.IsDir() && p != root && s.opts.skip.dir(filepath.ToSlash(p)) {
				return filepath.SkipDir // --skip-dirs: not even listed
			}
			if isDirLink(d) {
				return w.dirLink(realRoot, p, filepath.ToSlash(p))
			}
			if !d.Type().IsRegular() {
				return nil
			}
			if s.opts.skip.file([]string{filepath.ToSlash(p)}) {
				w.stats.Skipped++ // --skip-files: never opened
				return nil
			}
			return visitFile(p, filepath.ToSlash(p))
		})
		if err != nil {
			return nil, err
		}
	}
	res := &Result{}
	s.merge(ctx, res, engine, []*LayerResult{w.result()})
	return res, nil
}

// merge gathers the layers' results in layer order, verifies keystores
// against every password found, and sorts the findings.
func (s *Scanner) merge(ctx context.Context, res *Result, engine *rules.Engine, results []*LayerResult) {
	var files []KeystoreFile
	for _, r := range results {
		res.Findings = append(res.Findings, r.Findings...)
		res.Incomplete = append(res.Incomplete, r.Incomplete...)
		res.Dismissed = append(res.Dismissed, r.Dismissed...)
		res.Stats.add(r.Stats)
		files = append(files, r.Keystores...)
	}
	s.verify(ctx, res, engine, files)
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

// verify runs the engine's verifiers over the kept files and every finding,
// and joins what they prove into the result: the kept files' findings
// (a keystore that opens, or that holds keys), what could not be tried,
// and the findings they prove live (verified, at the severity the
// verifier gives, listing what they open). The layers' results are not
// changed.
func (s *Scanner) verify(ctx context.Context, res *Result, engine *rules.Engine, files []KeystoreFile) {
	if len(files) == 0 {
		return
	}
	located := make([]rules.Located, len(res.Findings))
	for i, f := range res.Findings {
		located[i] = rules.Located{Finding: f.Finding, Path: f.Path}
	}
	kept := make([]rules.File, len(files))
	for i, kf := range files {
		kept[i] = rules.File{Path: kf.Path, Data: kf.Data}
	}
	var found []Finding
	for _, v := range engine.Verify(ctx, located, kept) {
		kf := files[v.File]
		for _, in := range v.Incomplete {
			res.Incomplete = append(res.Incomplete, Incomplete{Path: kf.Path, Layer: kf.Layer, Reason: in.Reason})
		}
		if v.Dismissal != nil && s.opts.Explain {
			d := v.Dismissal
			res.Dismissed = append(res.Dismissed, Dismissed{Path: kf.Path, Layer: kf.Layer, RuleID: d.RuleID, Line: d.Line, Key: d.Key, Reason: d.Reason})
		}
		if v.Finding != nil {
			found = append(found, Finding{Finding: *v.Finding, Path: kf.Path, Layer: kf.Layer,
				Verified: v.Opened, VerifiedBy: v.By, KeystoreType: v.Type, Aliases: v.Aliases})
		}
		for _, i := range v.Proves {
			f := &res.Findings[i]
			f.Verified = true
			f.Severity = max(f.Severity, v.Severity)
			f.Opens = append(f.Opens, FormatLocation(kf.Path, 0))
		}
	}
	res.Findings = append(res.Findings, found...)
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
