package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"syscall"

	"github.com/peelscan/peel/internal/atomicfile"
	"github.com/peelscan/peel/report"
)

// output is one report to write: a format and a file ("" for stdout).
type output struct {
	format string
	file   string
}

// formatWord is what may stand before "=" in FORMAT=FILE: a value whose
// part before "=" is such a word names a format, known or not.
var formatWord = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// parseOutputs turns --format and the --output values (FILE or
// FORMAT=FILE, "-" for stdout) into the reports to write. A plain FILE
// takes --format away from stdout; FORMAT=FILE adds a report beside it,
// and FORMAT=- puts that format on stdout instead of --format's. Format
// names are case-insensitive; an unknown one is an error (a file whose
// name starts with a word and "=" is written ./NAME). formatSet says
// --format was given (on the command line, in the environment or the
// config file), so that it cannot silently lose stdout to FORMAT=-.
func parseOutputs(format string, formatSet bool, values []string) ([]output, error) {
	format = strings.ToLower(format)
	if _, err := report.ByName(format); err != nil {
		return nil, fmt.Errorf("bad flag: --format: %w", err)
	}
	stdout := true
	var outs []output
	for _, v := range values {
		o := output{format: format, file: v}
		if f, file, ok := strings.Cut(v, "="); ok && formatWord.MatchString(f) {
			name := strings.ToLower(f)
			if _, err := report.ByName(name); err != nil {
				return nil, fmt.Errorf("bad flag: --output %q: %w; a file named so is written ./%s", v, err, v)
			}
			o = output{format: name, file: file}
			if isStdout(file) {
				if formatSet && name != format {
					return nil, fmt.Errorf("bad flag: --output %q and --format %s both write stdout", v, format)
				}
				stdout = false
			}
		} else {
			stdout = false // a plain FILE takes --format off stdout
		}
		if o.file == "" {
			return nil, fmt.Errorf("bad flag: --output %q: no file", v)
		}
		if isStdout(o.file) {
			o.file = "" // stdout, written last (see writeOutputs)
		}
		outs = append(outs, o)
	}
	if stdout {
		outs = append([]output{{format: format}}, outs...)
	}
	seen := map[string]bool{}
	for _, o := range outs {
		if seen[o.file] {
			name := o.file
			if name == "" {
				name = "stdout"
			}
			return nil, fmt.Errorf("bad flag: --output: %s is written twice", name)
		}
		seen[o.file] = true
	}
	return outs, nil
}

func isStdout(file string) bool { return file == "-" || file == "/dev/stdout" }

// checkOutputs finds, before anything is scanned, a report that could not
// be written: a directory that does not exist or is not writable, a path
// that is a directory.
func checkOutputs(outs []output) error {
	for _, o := range outs {
		if o.file == "" {
			continue
		}
		if err := atomicfile.Check(o.file); err != nil {
			return fmt.Errorf("bad flag: --output: %w", err)
		}
	}
	return nil
}

// writeOutputs renders every report. Regular files are written to temp
// files and renamed into place only when all of them rendered, so a
// failure leaves no report half-written; a path that is not a regular file
// (/dev/null, a FIFO, a terminal) is written in place, never replaced;
// stdout comes last. Reports get the umask's permissions, or keep those of
// the file they replace; with unredacted secrets (private), 0600 at most.
func writeOutputs(ctx context.Context, outs []output, rep *report.Report, stdout io.Writer, private bool, table report.TableOptions) error {
	var pending []*atomicfile.Pending
	discard := func() {
		for _, p := range pending {
			p.Discard()
		}
	}
	for _, o := range outs {
		if o.file == "" {
			continue
		}
		w, _ := report.ByName(o.format)
		prepare := atomicfile.Prepare
		if private {
			prepare = atomicfile.PreparePrivate
		}
		p, err := prepare(o.file, func(f io.Writer) error { return w.Write(f, rep) })
		if err != nil {
			discard()
			return err
		}
		pending = append(pending, p)
	}
	for i, p := range pending {
		if err := p.CommitContext(ctx); err != nil {
			for _, q := range pending[i+1:] {
				q.Discard()
			}
			return err
		}
	}
	for _, o := range outs {
		if o.file == "" {
			w, _ := report.ByName(o.format)
			if o.format == "table" {
				w = report.Table(table) // fitted to the terminal, if stdout is one
			}
			// The writers' own errors, and those they drop, alike.
			sw := &stickyWriter{w: stdout}
			err := w.Write(sw, rep)
			if err == nil {
				err = sw.err
			}
			if errors.Is(err, syscall.EPIPE) {
				return errStdoutClosed
			}
			if err != nil {
				return fmt.Errorf("writing report: %w", err)
			}
		}
	}
	return nil
}

// stickyWriter keeps the first write error, and writes nothing after it.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	s.err = err
	return n, err
}
