package rules

// Bounds on what one file may cost the detectors, whatever its bytes: a
// limit that trips ends the part of the file it guards, and is reported
// as incomplete (or, for dismissals, summed up), never silently.
const (
	// MaxNesting is how deep the JSON and XML detectors follow a file's
	// structure; past it the rest of the file's keys are not read. Real
	// configuration stays within a few dozen levels.
	MaxNesting = 512
	// MaxParseSize is the largest file the JSON and XML detectors parse
	// (the scanner hands out at most --max-file-size bytes, 16 MiB by
	// default).
	MaxParseSize = 64 << 20
	// MaxFindingsPerFile is the most findings one file reports, and the
	// most dismissals it lists; the rest are counted and reported as a
	// gap. Candidates are collected up to rawPerFile before the merge of
	// findings on the same bytes.
	MaxFindingsPerFile = 1000
	rawPerFile         = 4 * MaxFindingsPerFile
)
