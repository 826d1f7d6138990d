package scanner

import (
	"log/slog"
	"runtime"

	"github.com/peelscan/peel/rules"
)

// Options bound and tune a scan. The zero value of a field means its
// default.
type Options struct {
	// ResultOptions change what a layer's scan reports, and so are part of
	// the layer cache key.
	ResultOptions
	// MaxTotalInflate bounds the bytes decompressed in one scan, layers and
	// nested archives together. Default 64 GiB. It is not a result option:
	// which layer it cuts depends on the others, so a layer it cut is not
	// cached.
	MaxTotalInflate int64
	// MemoryBuffer is how much of a nested archive is held in memory; a
	// larger one spills to a temp file in TempDir. Default 64 MiB.
	MemoryBuffer int64
	// Parallelism is how many layers are read at once. Default: the number
	// of CPUs.
	Parallelism int
	// TempDir holds spill files; they are unlinked as soon as they are
	// created. Default: the system temp directory.
	TempDir string
	// Cache, if set, keeps each completely read and verified layer's result
	// (and the configs of daemon images), so that a re-scan, or another
	// image sharing the layer, skips it. The results hold the secrets found
	// and the keystores kept: wrap the store in cache.Seal (scanner/cache)
	// so that its bytes reveal nothing. See LayerCache.
	Cache LayerCache
	// Share, if set, shares layer results between the images of a run:
	// each layer is read once however many images hold it. See Share.
	Share *Share
	// Engine runs the detection rules. Default: rules.DefaultEngine.
	Engine *rules.Engine
	// Progress, if set, is told how far each layer has been read (and
	// more, if it is a DetailedProgress).
	Progress Progress
	// Signatures, if set, looks up (and verifies) the signatures of every
	// image read from a registry or an OCI layout, once its layers are
	// read (Result.Signatures). See scanner/signature.
	Signatures SignatureChecker
	// RequireSignature makes an image without a signature that verifies
	// a finding (rules.JudgeSignatures), as an input that carries no
	// signatures is.
	RequireSignature bool
	// Logger, if set, is told at debug level what the scan decides:
	// layer cache hits, misses and stores. It never receives a secret.
	Logger *slog.Logger

	skip    *skipper // SkipFiles and SkipDirs compiled by withDefaults
	skipErr error    // a glob of them that does not compile: every scan returns it
}

// ResultOptions are the options that change what the scan of a layer
// reports. The layer cache key holds all of them: an option added here
// invalidates cached results by itself; one added to Options outside this
// struct is declared not to change any layer's result.
type ResultOptions struct {
	// MaxDepth is how many archives deep to open (a jar in a jar in a
	// layer is depth 2). Default 8.
	MaxDepth int
	// MaxFileSize is the largest file read for config rules. Default 16 MiB.
	MaxFileSize int64
	// MaxArchiveSize is the largest nested archive buffered to be opened.
	// Default 4 GiB.
	MaxArchiveSize int64
	// MaxRatio bounds the compression ratio of a layer stream or an
	// archive member (uncompressed to compressed), checked once 16 MiB
	// are out: bombs run at 1000:1, real data rarely past 20:1. Default 200.
	MaxRatio int64
	// MaxEntries bounds the members of one archive. Default 100 000.
	MaxEntries int
	// Explain keeps, in Result.Dismissed, every candidate a rule looked at
	// and did not report, with the reason.
	Explain bool
	// IncludeDependencyTests reports findings in the test resources of
	// third-party jars (test/, fixtures/, examples/ … inside a jar under
	// BOOT-INF/lib, WEB-INF/lib or lib/), which are dismissed by default.
	IncludeDependencyTests bool
	// SkipFiles and SkipDirs are globs (those of ignore files) of files,
	// and of directories, that are not read at all: a file whose location
	// matches one of SkipFiles, or that sits under a directory matching
	// one of SkipDirs, is neither opened nor scanned, and counted in
	// Stats.Skipped. A leading "/" is optional.
	SkipFiles, SkipDirs []string
}

// Progress receives how far a scan has come. Calls come from the
// goroutines that read layers, concurrently.
type Progress interface {
	// Layer reports that done bytes of layer (1-based, of layers) have been
	// read, of total (-1 when the size is not known up front). finished is
	// set once.
	Layer(layer, layers int, done, total int64, finished bool)
}

// Defaults for Options.
const (
	DefaultMaxDepth        = 8
	DefaultMaxFileSize     = 16 << 20
	DefaultMaxArchiveSize  = 4 << 30
	DefaultMemoryBuffer    = 64 << 20
	DefaultMaxTotalInflate = 64 << 30
	DefaultMaxRatio        = 200
	DefaultMaxEntries      = 100_000
	// ratioFloor is how much a stream must inflate before its ratio counts.
	ratioFloor = 16 << 20
)

func (o Options) withDefaults() Options {
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.MaxArchiveSize <= 0 {
		o.MaxArchiveSize = DefaultMaxArchiveSize
	}
	if o.MemoryBuffer <= 0 {
		o.MemoryBuffer = DefaultMemoryBuffer
	}
	if o.MaxTotalInflate <= 0 {
		o.MaxTotalInflate = DefaultMaxTotalInflate
	}
	if o.MaxRatio <= 0 {
		o.MaxRatio = DefaultMaxRatio
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.Parallelism <= 0 {
		o.Parallelism = runtime.GOMAXPROCS(0)
	}
	o.skip, o.skipErr = newSkipper(o.SkipFiles, o.SkipDirs)
	return o
}
