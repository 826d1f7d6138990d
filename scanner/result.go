package scanner

import (
	"github.com/peelscan/peel/rules"
)

// Result is what a scan of one image or filesystem found.
type Result struct {
	Input    string // the argument as given
	Kind     string // registry, docker-archive, oci, oci-archive, docker-daemon or dir
	ImageID  string // digest of the image config, as docker images shows it
	Digest   string // manifest digest, where the source has one cheaply
	Ref      string // for registry images, the reference pulled (a mirror's, if one served it)
	Platform string // os/arch[/variant] of the image
	Layers   []Layer
	Findings []Finding
	// Incomplete lists what a limit or a malformed file kept the scan from
	// reading; the rest of the image was scanned.
	Incomplete []Incomplete
	// Dismissed lists, when Options.Explain is set, what the rules looked at
	// and chose not to report, and why.
	Dismissed []Dismissed
	// Rules describes every rule that has a finding here.
	Rules map[string]rules.Rule
	Stats Stats
	// Error, when set, says why the image could not be scanned (a run over
	// many images goes on past it); only Input and Kind are set besides.
	Error string
	// Signatures is what was found of the image's signatures, when
	// Options.Signatures looked them up (registry and OCI layout inputs).
	Signatures *Signatures
}

// Dismissed is a candidate that was not reported, and the reason.
type Dismissed struct {
	Path   []string
	Line   int
	Layer  int
	RuleID string
	Key    string
	Reason string
}

// Layer describes one layer of an image.
type Layer struct {
	Number    int    // 1-based position, bottom layer first
	DiffID    string // digest of the uncompressed layer
	CreatedBy string // the history entry that made it, if the image records one
}

// Finding is a rules.Finding placed in the image.
type Finding struct {
	rules.Finding
	// Path is the location chain: the file in the layer (or below the
	// scanned directory), then each archive member inside it.
	Path []string
	// Layer is the 1-based layer that holds the file, 0 outside images.
	Layer int
	// DeletedInLayer is the later layer whose whiteout deletes the file
	// (its bytes remain in the image), or 0.
	DeletedInLayer int

	// Verified is set when the secret was proven live: a keystore that
	// opened, or a password that opened one.
	Verified bool
	// VerifiedBy names, for a keystore, where the password that opened it
	// was found (a location, or "default password list").
	VerifiedBy string
	// Opens lists, for a password, the keystores it opens.
	Opens []string
	// KeystoreType and Aliases describe a keystore finding: its format and
	// its private-key aliases.
	KeystoreType string
	Aliases      []string
	// Excerpt is the text around a finding in a text file, the secret in
	// it unmasked (see Excerpt); nil elsewhere.
	Excerpt *Excerpt `json:",omitempty"`
}

// Location returns the readable location chain, members joined with "!"
// and the line appended: /app.jar!BOOT-INF/classes/application.properties:3.
func (f *Finding) Location() string {
	return FormatLocation(f.Path, f.Line)
}

// FormatLocation joins a location chain and line as Finding.Location does.
func FormatLocation(path []string, line int) string { return rules.FormatLocation(path, line) }

// Incomplete records a part of the input that was not fully scanned.
type Incomplete struct {
	Path   []string
	Layer  int
	Reason string
}

// Stats counts what a scan read.
type Stats struct {
	Layers       int   // layers scanned, from the cache or read
	CachedLayers int   // layers whose result came from the cache
	SharedLayers int   // layers whose result another image of the run had (see Share)
	Files        int   // regular files reached, archive members included
	Archives     int   // archives opened
	Bytes        int64 // uncompressed layer (or file) bytes read
	Skipped      int   // files not read: Options.SkipFiles, SkipDirs
}

func (s *Stats) add(o Stats) {
	s.Layers += o.Layers
	s.CachedLayers += o.CachedLayers
	s.SharedLayers += o.SharedLayers
	s.Files += o.Files
	s.Archives += o.Archives
	s.Bytes += o.Bytes
	s.Skipped += o.Skipped
}
