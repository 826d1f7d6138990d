package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/peelscan/peel/internal/atomicfile"
	"github.com/peelscan/peel/report"
)

// output is one report to write: a format and a file ("" for stdout).
type output struct {
	format string
	file   string
}

// parseOutputs turns --format and the --output values (FILE or
// FORMAT=FILE, "-" for stdout) into the reports to write. A plain FILE
// takes --format away from stdout; FORMAT=FILE adds a report beside it.
func parseOutputs(format string, values []string) ([]output, error) {
	stdout := true
	var outs []output
	for _, v := range values {
		o := output{format: format, file: v}
		f, file, ok := strings.Cut(v, "=")
		if _, err := report.ByName(f); ok && err == nil {
			o = output{format: f, file: file}
		} else {
			stdout = false // a plain FILE takes --format off stdout
		}
		if o.file == "" {
			return nil, fmt.Errorf("bad flag: --output %q: no file", v)
		}
		if o.file == "-" || o.file == "/dev/stdout" {
			o.file = "" // stdout, written last (see writeOutputs)
		}
		outs = append(outs, o)
	}
	if stdout {
		outs = append([]output{{format: format}}, outs...)
	}
	seen := map[string]bool{}
	for _, o := range outs {
		if _, err := report.ByName(o.format); err != nil {
			return nil, fmt.Errorf("bad flag: --format: %w", err)
		}
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

// writeOutputs renders every report. Regular files are written to temp
// files and renamed into place only when all of them rendered, so a
// failure leaves no report half-written; a path that is not a regular file
// (/dev/null, a FIFO, a terminal) is written in place, never replaced;
// stdout comes last. Reports get the umask's permissions, or keep those of
// the file they replace; with unredacted secrets (private), 0600 at most.
func writeOutputs(ctx context.Context, outs []output, rep *report.Report, stdout io.Writer, private bool) error {
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

// progressLine draws, on a terminal, one line per image being scanned:
// layers finished and bytes read of the total where the sizes are known.
// It writes nothing when stderr is not a terminal.
type progressLine struct {
	mu     sync.Mutex
	w      io.Writer
	image  string
	done   map[int]int64
	total  map[int]int64
	fin    map[int]bool
	layers int
	last   time.Time
}

func newProgress(w *os.File, quiet bool) *progressLine {
	if quiet || !term.IsTerminal(int(w.Fd())) {
		return nil
	}
	return &progressLine{w: w}
}

func (p *progressLine) start(image string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.image, p.layers = image, 0
	p.done, p.total, p.fin = map[int]int64{}, map[int]int64{}, map[int]bool{}
}

// Layer implements scanner.Progress.
func (p *progressLine) Layer(layer, layers int, done, total int64, finished bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.layers, p.done[layer], p.total[layer] = layers, done, total
	if finished {
		p.fin[layer] = true
	}
	if !finished && time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	var done64, total64 int64
	known := true
	for l, d := range p.done {
		done64 += d
		if p.total[l] < 0 {
			known = false
		}
		total64 += p.total[l]
	}
	line := fmt.Sprintf("%s: %d/%d layers, %s", report.Printable(p.image), len(p.fin), p.layers, mib(done64))
	if known && total64 > 0 {
		line += " of " + mib(total64)
	}
	// The layers in flight, each with its own bytes done (of total).
	var inFlight []int
	for l := range p.done {
		if !p.fin[l] {
			inFlight = append(inFlight, l)
		}
	}
	sort.Ints(inFlight)
	for _, l := range inFlight {
		line += fmt.Sprintf(" | layer %d: %s", l, mib(p.done[l]))
		if p.total[l] > 0 {
			line += " of " + mib(p.total[l])
		}
	}
	fmt.Fprintf(p.w, "\r\033[K%s", line)
}

func (p *progressLine) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.w, "\r\033[K")
}

func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
