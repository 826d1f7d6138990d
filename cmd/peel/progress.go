package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/olekukonko/tablewriter/pkg/twwidth"
	"golang.org/x/term"

	"github.com/peelscan/peel/report"
	"github.com/peelscan/peel/scanner"
)

// progress draws, on a terminal, one line for the input being scanned: how
// many layers are done of how many, the bytes read of the total the
// manifest gives (from the start: every layer's size is known before the
// first is read), the rate and the time left; for a dir: scan, the files
// and bytes read, of a total counted alongside. The line never reaches the
// terminal's last column (it is cut, never wrapped), so that "\r" and
// erase-line redraw it in place and leave nothing behind; it is redrawn
// as the scan goes and at least every tick, so that a slow phase (a
// registry that takes its time, an archive being indexed) shows its
// elapsed time. Nothing is drawn when stderr is not a terminal.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	width func() int // the terminal's columns now (it may be resized)
	now   func() time.Time

	input        string // as shown: escaped, with [i/n] when there are several
	kind         string
	opened       time.Time // when the input started
	firstByte    time.Time // when the first byte of a layer or file came
	sizes        []int64   // each layer's planned size, -1 unknown
	done         map[int]int64
	finished     map[int]bool
	cached       map[int]bool
	layers       int
	files        int
	bytes        int64
	countFiles   int // of a dir: input, counted alongside the scan
	countBytes   int64
	counted      bool
	last         time.Time // of the last draw
	drawn        bool      // a line is on the screen
	stopTick     chan struct{}
	tickStopped  chan struct{}
	countStopped chan struct{}
	stopCount    chan struct{}
}

// tick is how often the line is redrawn without news; throttle is how
// often news redraws it at most.
const (
	tick     = 250 * time.Millisecond
	throttle = 100 * time.Millisecond
)

var _ scanner.DetailedProgress = (*progress)(nil)

// newProgress returns the progress line for stderr, or nil when it is not
// a terminal or with --quiet.
func newProgress(w *os.File, quiet bool) *progress {
	if quiet || !term.IsTerminal(int(w.Fd())) {
		return nil
	}
	fd := int(w.Fd())
	return newProgressTo(w, func() int {
		c, _, err := term.GetSize(fd)
		if err != nil || c <= 0 { // a terminal that does not say (some CI runners')
			return 80
		}
		return c
	})
}

func newProgressTo(w io.Writer, width func() int) *progress {
	return &progress{w: w, width: width, now: time.Now}
}

// start begins an input (the n-th of count): drawn at once, then redrawn
// every tick until stop.
func (p *progress) start(input string, n, count int) {
	p.mu.Lock()
	p.reset(input, n, count)
	p.kind = ""
	p.drawLocked(true)
	running := p.stopTick != nil
	if !running {
		p.stopTick, p.tickStopped = make(chan struct{}), make(chan struct{})
	}
	stopTick, stopped := p.stopTick, p.tickStopped
	p.mu.Unlock()
	if !running {
		go func() {
			defer close(stopped)
			t := time.NewTicker(tick)
			defer t.Stop()
			for {
				select {
				case <-stopTick:
					return
				case <-t.C:
					p.mu.Lock()
					p.drawLocked(true)
					p.mu.Unlock()
				}
			}
		}()
	}
}

func (p *progress) reset(input string, n, count int) {
	p.input = report.Printable(input)
	if count > 1 {
		p.input = fmt.Sprintf("[%d/%d] %s", n, count, p.input)
	}
	p.opened, p.firstByte = p.now(), time.Time{}
	p.sizes, p.layers = nil, 0
	p.done, p.finished, p.cached = map[int]int64{}, map[int]bool{}, map[int]bool{}
	p.files, p.bytes = 0, 0
	p.countFiles, p.countBytes, p.counted = 0, 0, false
}

// target says an input was resolved to t (one of several with
// --all-platforms: its own name); for a dir: target, the files under it
// are counted alongside the scan, skipping what skip skips.
func (p *progress) target(t *scanner.Target, n, count int, skip func(string, bool) bool) {
	p.stopCounting()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reset(t.Input, n, count)
	p.kind = t.Kind
	if t.Kind == scanner.KindDir {
		p.stopCount, p.countStopped = make(chan struct{}), make(chan struct{})
		go p.count(t.Path, skip, p.stopCount, p.countStopped)
	}
	p.drawLocked(true)
}

// count walks root as a dir: scan does, adding up its regular files.
func (p *progress) count(root string, skip func(string, bool) bool, stop, stopped chan struct{}) {
	defer close(stopped)
	files, bytes := 0, int64(0)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		select {
		case <-stop:
			return filepath.SkipAll
		default:
		}
		if err != nil {
			return nil
		}
		slash := filepath.ToSlash(path)
		if d.IsDir() {
			if path != root && skip != nil && skip(slash, true) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || skip != nil && skip(slash, false) {
			return nil
		}
		if info, err := d.Info(); err == nil {
			files++
			bytes += info.Size()
		}
		return nil
	})
	if err != nil {
		return
	}
	select {
	case <-stop:
		return
	default:
	}
	p.mu.Lock()
	p.countFiles, p.countBytes, p.counted = files, bytes, true
	p.mu.Unlock()
}

func (p *progress) stopCounting() {
	p.mu.Lock()
	stop, stopped := p.stopCount, p.countStopped
	p.stopCount, p.countStopped = nil, nil
	p.mu.Unlock()
	if stop != nil {
		close(stop)
		<-stopped
	}
}

// Plan implements scanner.DetailedProgress.
func (p *progress) Plan(sizes []int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sizes, p.layers = append([]int64(nil), sizes...), len(sizes)
	p.drawLocked(true)
}

// Layer implements scanner.Progress.
func (p *progress) Layer(layer, layers int, done, total int64, finished bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.firstByte.IsZero() && done > 0 {
		p.firstByte = p.now()
	}
	p.layers, p.done[layer] = layers, done
	if total >= 0 && len(p.sizes) == layers && p.sizes[layer-1] < 0 {
		p.sizes[layer-1] = total
	}
	if finished {
		p.finished[layer] = true
	}
	p.drawLocked(finished)
}

// Cached implements scanner.DetailedProgress.
func (p *progress) Cached(layer, layers int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.layers, p.cached[layer], p.finished[layer] = layers, true, true
	p.drawLocked(false)
}

// Files implements scanner.DetailedProgress.
func (p *progress) Files(files int, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.firstByte.IsZero() && bytes > 0 {
		p.firstByte = p.now()
	}
	p.files, p.bytes = files, bytes
	p.drawLocked(false)
}

// finish draws the input's final state (so that its totals are seen even
// when it took less than a tick).
func (p *progress) finish(res *scanner.Result) {
	p.stopCounting()
	p.mu.Lock()
	defer p.mu.Unlock()
	if res.Kind == scanner.KindDir {
		p.files, p.bytes = res.Stats.Files, res.Stats.Bytes
		p.countFiles, p.countBytes, p.counted = p.files, p.bytes, true
	}
	p.drawLocked(true)
}

// stop ends the ticks and the counting, and clears the line.
func (p *progress) stop() {
	p.stopCounting()
	p.mu.Lock()
	stopTick, stopped := p.stopTick, p.tickStopped
	p.stopTick, p.tickStopped = nil, nil
	p.mu.Unlock()
	if stopTick != nil {
		close(stopTick)
		<-stopped
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

// drawLocked redraws the line, unless news came within throttle and force
// is not set.
func (p *progress) drawLocked(force bool) {
	now := p.now()
	if !force && now.Sub(p.last) < throttle {
		return
	}
	p.last = now
	line := fitLine(p.fields(now), p.width()-1)
	fmt.Fprintf(p.w, "\r%s\033[K", line)
	p.drawn = true
}

// field is one part of the line; the line drops the parts of lowest keep
// first when it does not fit.
type field struct {
	text string
	keep int
}

// fields says where the input is, in parts the line can drop.
func (p *progress) fields(now time.Time) []field {
	out := []field{{p.input, 100}}
	elapsed := now.Sub(p.opened)
	switch {
	case p.kind == scanner.KindDir:
		out = append(out, field{plural(p.files, "file") + ", " + mib(p.bytes), 90})
		if p.counted {
			out = append(out, field{"of " + plural(p.countFiles, "file") + ", " + mib(p.countBytes), 60})
			out = append(out, p.rate(now, p.bytes, p.countBytes)...)
		} else {
			out = append(out, p.rate(now, p.bytes, -1)...)
		}
	case p.layers == 0:
		what := "opening"
		if p.kind != "" {
			what = "reading the image"
		}
		out = append(out, field{what + "…", 90})
	default:
		layers := fmt.Sprintf("%d/%d layers", len(p.finished), p.layers)
		if len(p.cached) > 0 {
			layers += fmt.Sprintf(" (%d cached)", len(p.cached))
		}
		out = append(out, field{layers, 90})
		var done, total int64
		known := len(p.sizes) == p.layers
		for l := 1; l <= p.layers; l++ {
			if p.cached[l] {
				continue
			}
			done += p.done[l]
			if known && p.sizes[l-1] >= 0 {
				total += p.sizes[l-1]
			} else {
				known = false
			}
		}
		if known {
			out = append(out, field{mib(done) + " of " + mib(total), 80})
			out = append(out, p.rate(now, done, total)...)
		} else {
			out = append(out, field{mib(done) + " read", 80})
			out = append(out, p.rate(now, done, -1)...)
		}
	}
	out = append(out, field{duration(elapsed), 40})
	return out
}

// rate gives the percentage, speed and time left, where they are known.
func (p *progress) rate(now time.Time, done, total int64) []field {
	var out []field
	if total > 0 {
		out = append(out, field{fmt.Sprintf("%d%%", min(100, done*100/total)), 70})
	}
	if p.firstByte.IsZero() {
		return out
	}
	secs := now.Sub(p.firstByte).Seconds()
	if secs < 1 || done == 0 {
		return out
	}
	speed := float64(done) / secs
	out = append(out, field{mib(int64(speed)) + "/s", 20})
	if total > done {
		out = append(out, field{"ETA " + duration(time.Duration(float64(total-done)/speed*float64(time.Second))), 50})
	}
	return out
}

// fitLine joins the fields in order, leaving out the least kept until
// the line fits width columns; the name (the first field) is shortened in
// its middle before a field kept at least nameYields goes, down to
// minName columns; what is left over is cut.
func fitLine(fields []field, width int) string {
	if width < 1 {
		width = 1
	}
	join := func(fs []field) string {
		parts := make([]string, 0, len(fs))
		for _, f := range fs {
			parts = append(parts, f.text)
		}
		return strings.Join(parts, "  ")
	}
	for {
		line := join(fields)
		over := twwidth.Width(line) - width
		if over <= 0 || len(fields) <= 1 {
			return cutWidth(line, width)
		}
		low := 1
		for i := 1; i < len(fields); i++ {
			if fields[i].keep < fields[low].keep {
				low = i
			}
		}
		if fields[low].keep >= nameYields {
			if name := fields[0].text; twwidth.Width(name) > minName {
				fields[0].text = cutMiddle(name, max(minName, twwidth.Width(name)-over))
				continue
			}
		}
		fields = append(fields[:low:low], fields[low+1:]...)
	}
}

// The name gives way, down to minName columns, before the fields kept at
// least nameYields (the counts and totals).
const (
	nameYields = 60
	minName    = 20
)

// cutMiddle shortens s to n columns, keeping its start and end around "…".
func cutMiddle(s string, n int) string {
	if twwidth.Width(s) <= n {
		return s
	}
	runes := []rune(s)
	head, tail := (n-1)/2, n-1-(n-1)/2
	w, i := 0, 0
	for i < len(runes) && w+twwidth.Width(string(runes[i])) <= head {
		w += twwidth.Width(string(runes[i]))
		i++
	}
	w, j := 0, len(runes)
	for j > i && w+twwidth.Width(string(runes[j-1])) <= tail {
		w += twwidth.Width(string(runes[j-1]))
		j--
	}
	return string(runes[:i]) + "…" + string(runes[j:])
}

// cutWidth cuts s to at most n columns, ending it with "…" when cut.
func cutWidth(s string, n int) string {
	if twwidth.Width(s) <= n {
		return s
	}
	w := 0
	for i, r := range s {
		rw := twwidth.Width(string(r))
		if w+rw > n-1 {
			return s[:i] + "…"
		}
		w += rw
	}
	return s
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	if n < 1<<30 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
}

func duration(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	if d < time.Hour {
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
