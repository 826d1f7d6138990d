package report

import (
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/pkg/twwidth"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/peelscan/peel/rules"
)

// TableOptions fit the table to where it is shown.
type TableOptions struct {
	// Width is the terminal's width in columns. At WideTable columns or
	// more, the findings are a table fitted to it, locations wrapped
	// inside their cells, followed by the source around each; below, a
	// block per finding, wrapped to it. Every line fits. 0 means no
	// terminal (a file, a pipe, a CI log): a block per finding, nothing
	// wrapped, so that each location stays whole on its line.
	Width int
	// Color marks severities and secrets with ANSI colours, for a
	// terminal that shows them.
	Color bool
}

// WideTable is the narrowest terminal the table layout is used on.
const WideTable = 120

// Table returns the table writer for opts; ByName("table") is
// Table(TableOptions{}).
func Table(opts TableOptions) Writer { return tableWriter{opts} }

type tableWriter struct{ o TableOptions }

var _ Writer = tableWriter{}

// Widths: how much of a layer's created_by the table shows, and how wide
// an unwrapped line of source may be.
const (
	createdByWidth = 56
	sourceWidth    = 200
)

// Write renders, per image, its findings sorted by severity (worst first)
// then location, each with the masked source around it where it is in a
// text file; the full remediation of each rule seen; what could not be
// scanned; and a closing count. Every string from the input is shown
// through Printable: a name cannot move the cursor or print a line of its
// own.
func (t tableWriter) Write(w io.Writer, r *Report) error {
	tw := &textWriter{w: w, width: t.o.Width, color: t.o.Color}
	for i, img := range r.Images {
		if i > 0 {
			tw.line("")
		}
		if img.Error != "" {
			tw.wrapped(fmt.Sprintf("%s: error: %s", Printable(img.Input), Printable(img.Error)), 4)
			continue
		}
		tw.wrapped(imageHeader(img), 2)
		for _, l := range signatureLines(img.Signatures) {
			tw.wrapped(l, 4)
		}
		findings := sortedFindings(img.Findings)
		switch {
		case len(findings) == 0:
			tw.line("No secrets found.")
		case t.o.Width >= WideTable:
			if err := tw.table(findings); err != nil {
				return err
			}
			for _, f := range findings {
				if f.Excerpt != nil {
					tw.line("")
					tw.wrappedPath(tw.paint(f.Severity, strings.ToUpper(f.Severity.String()))+" "+Printable(f.Rule)+" at ", Printable(f.Location), 4)
					tw.source(f)
				}
			}
			tw.line("")
		default:
			for _, f := range findings {
				tw.block(f)
			}
		}
		if len(findings) > 0 && t.o.Width < WideTable {
			tw.line("")
		}
		var seen []string
		fixes := map[string]string{}
		for _, f := range findings {
			if _, ok := fixes[f.Rule]; !ok {
				seen = append(seen, f.Rule)
				fixes[f.Rule] = f.Remediation
			}
		}
		for _, id := range seen {
			tw.wrapped(fmt.Sprintf("fix %s: %s", Printable(id), Printable(fixes[id])), 4)
		}
		for _, in := range img.Incomplete {
			tw.wrapped(fmt.Sprintf("scan incomplete: %s: %s", Printable(in.Location), Printable(in.Reason)), 4)
		}
		for _, d := range img.Dismissed {
			s := "dismissed: " + Printable(d.Location)
			if d.Key != "" {
				s += fmt.Sprintf(" (%s)", Printable(d.Key))
			}
			tw.wrapped(s+": "+Printable(d.Reason), 4)
		}
	}
	tw.line("")
	tw.wrapped(SummaryLine(r), 2)
	return tw.err
}

// imageHeader names an image and says what was read of it: a layer whose
// result came from the layer cache was not read again, and is not counted
// as if it had been.
func imageHeader(img Image) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s", Printable(img.Input), img.Kind)
	if img.Platform != "" {
		fmt.Fprintf(&b, ", %s", Printable(img.Platform))
	}
	s := img.Stats
	switch {
	case s.Layers > 0 && s.CachedLayers == s.Layers:
		fmt.Fprintf(&b, ", %d layers, all from the layer cache", s.Layers)
	case s.CachedLayers > 0:
		fmt.Fprintf(&b, ", %d layers, %d from the layer cache; %d files, %d archives read", s.Layers, s.CachedLayers, s.Files, s.Archives)
	case s.Layers > 0:
		fmt.Fprintf(&b, ", %d layers, %d files, %d archives", s.Layers, s.Files, s.Archives)
	default:
		fmt.Fprintf(&b, ", %d files, %d archives", s.Files, s.Archives)
	}
	if s.SharedLayers > 0 {
		fmt.Fprintf(&b, ", %d layers shared with other images", s.SharedLayers)
	}
	if s.Skipped > 0 {
		fmt.Fprintf(&b, ", %d files skipped", s.Skipped)
	}
	b.WriteString(")")
	return b.String()
}

// SummaryLine is the closing line of a scan: findings by severity, what was
// suppressed, in the baseline or of another severity than asked, what
// could not be scanned, what was read (and what came from the layer cache
// instead) and how long it took.
func SummaryLine(r *Report) string {
	s := r.Summary
	var b strings.Builder
	fmt.Fprintf(&b, "%d finding(s) in %d image(s): %d critical, %d high, %d medium, %d low",
		s.Findings, s.Images, s.BySeverity["critical"], s.BySeverity["high"], s.BySeverity["medium"], s.BySeverity["low"])
	if s.Suppressed > 0 {
		fmt.Fprintf(&b, "; %d suppressed by the ignore file", s.Suppressed)
	}
	if s.Baselined > 0 {
		fmt.Fprintf(&b, "; %d in the baseline", s.Baselined)
	}
	if s.Filtered > 0 {
		fmt.Fprintf(&b, "; %d of other severities not shown", s.Filtered)
	}
	if s.Incomplete > 0 {
		fmt.Fprintf(&b, "; %d part(s) not fully scanned", s.Incomplete)
	}
	if s.Errors > 0 {
		fmt.Fprintf(&b, "; %d image(s) could not be scanned", s.Errors)
	}
	read := s.Layers - s.CachedLayers - s.SharedLayers
	switch {
	case s.SharedLayers > 0:
		fmt.Fprintf(&b, ". %d distinct layer(s) of %d: %d read, %d shared between images, %d from the layer cache; %d file(s), %d archive(s), %s",
			s.DistinctLayers, s.Layers, read, s.SharedLayers, s.CachedLayers, s.Files, s.Archives, humanBytes(s.Bytes))
	case s.Layers > 0 && read == 0:
		fmt.Fprintf(&b, ". All %d layer(s) came from the layer cache (nothing read again)", s.Layers)
	case s.Layers > 0:
		fmt.Fprintf(&b, ". Read %d layer(s), %d file(s), %d archive(s), %s", read, s.Files, s.Archives, humanBytes(s.Bytes))
		if s.CachedLayers > 0 {
			fmt.Fprintf(&b, "; %d layer(s) from the layer cache", s.CachedLayers)
		}
	default:
		fmt.Fprintf(&b, ". Read %d file(s), %d archive(s), %s", s.Files, s.Archives, humanBytes(s.Bytes))
	}
	if s.Skipped > 0 {
		fmt.Fprintf(&b, "; %d file(s) skipped", s.Skipped)
	}
	fmt.Fprintf(&b, " in %.1fs.", s.Seconds)
	return b.String()
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// sortedFindings orders findings worst first, then by location (the chain
// member by member, then the line as a number), then layer and rule.
func sortedFindings(fs []Finding) []Finding {
	out := append([]Finding(nil), fs...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		for k := 0; k < len(a.Path) && k < len(b.Path); k++ {
			if a.Path[k] != b.Path[k] {
				return a.Path[k] < b.Path[k]
			}
		}
		if len(a.Path) != len(b.Path) {
			return len(a.Path) < len(b.Path)
		}
		if a.Path == nil && a.Location != b.Location {
			return a.Location < b.Location // image-config findings have no chain
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Layer != b.Layer {
			return a.Layer < b.Layer
		}
		return a.Rule < b.Rule
	})
	return out
}

// textWriter writes lines that fit width (0: any length), keeping the
// first write error.
type textWriter struct {
	w     io.Writer
	width int
	color bool
	err   error
}

func (t *textWriter) line(s string) {
	if t.err == nil {
		_, t.err = io.WriteString(t.w, s+"\n")
	}
}

// wrapped writes s word-wrapped to the width, continuation lines indented.
func (t *textWriter) wrapped(s string, indent int) {
	for _, l := range wrapWords(s, t.width, indent) {
		t.line(l)
	}
}

// wrappedPath writes prefix and a location, the location broken after a
// "/" or "!" where it must be, continuation lines indented.
func (t *textWriter) wrappedPath(prefix, loc string, indent int) {
	lines := wrapPath(loc, t.width, twwidth.Width(prefix), indent)
	lines[0] = prefix + lines[0]
	for _, l := range lines {
		t.line(l)
	}
}

// Colours of severities, and the reset.
var severityColor = map[rules.Severity]string{
	rules.SeverityCritical: "\x1b[1;31m", // bold red
	rules.SeverityHigh:     "\x1b[31m",   // red
	rules.SeverityMedium:   "\x1b[33m",   // yellow
	rules.SeverityLow:      "\x1b[36m",   // cyan
}

const colorReset = "\x1b[0m"

// paint colours s by severity, when colour is on. (A few SGR sequences:
// no library needed for them; twwidth measures around them.)
func (t *textWriter) paint(sev rules.Severity, s string) string {
	if !t.color || s == "" {
		return s
	}
	return severityColor[sev] + s + colorReset
}

// block writes one finding: severity, rule and title; its location; its
// layer; its secret and details; the source around it.
func (t *textWriter) block(f Finding) {
	t.line("")
	head := t.paint(f.Severity, strings.ToUpper(f.Severity.String())) + " " + Printable(f.Rule)
	if f.Title != "" {
		head += ": " + Printable(f.Title)
	}
	t.wrapped(head, 2)
	t.wrappedPath("  ", Printable(f.Location), 4)
	if f.Layer > 0 {
		s := fmt.Sprintf("  layer %d", f.Layer)
		if f.CreatedBy != "" {
			n := createdByWidth * 2
			if t.width > 0 {
				n = max(16, t.width-len(s)-2)
			}
			s += ": " + Printable(shorten(f.CreatedBy, n))
		}
		t.wrapped(s, 4)
	}
	var parts []string
	if f.Secret != "" {
		parts = append(parts, "secret "+t.paint(f.Severity, Printable(f.Secret)))
	}
	if d := details(f); d != "" {
		parts = append(parts, Printable(d))
	}
	if len(parts) > 0 {
		t.wrapped("  "+strings.Join(parts, "; "), 4)
	}
	t.source(f)
}

// source writes a finding's excerpt as trivy does: numbered lines, the
// finding's marked, the masked secret coloured, each cut to the width.
func (t *textWriter) source(f Finding) {
	ex := f.Excerpt
	if ex == nil {
		return
	}
	last := ex.FirstLine + len(ex.Lines) - 1
	numWidth := len(fmt.Sprint(last))
	for i, l := range ex.Lines {
		n := ex.FirstLine + i
		mark := "   "
		if n == f.Line {
			mark = " " + t.paint(f.Severity, ">") + " "
		}
		gutter := fmt.Sprintf("  %s%*d │ ", mark, numWidth, n)
		room := sourceWidth
		if t.width > 0 {
			room = max(8, t.width-twwidth.Width(gutter))
		}
		text := cut(Printable(strings.ReplaceAll(l, "\t", "    ")), room)
		if n == f.Line && f.Secret != "" && t.color {
			secret := Printable(f.Secret)
			text = strings.ReplaceAll(text, secret, t.paint(f.Severity, secret))
		}
		t.line(gutter + text)
	}
}

// Columns of the table layout, and which of them shrink to fit.
var tableHeader = []string{"SEVERITY", "RULE", "LOCATION", "LAYER", "SECRET", "DETAILS"}

const (
	colLocation = 2
	colLayer    = 3
	colDetails  = 5
)

// table writes the findings as a table fitted to the width: the
// location, layer and details columns shrink as needed, the location
// wrapped after a "/" or "!", the others at spaces.
func (t *textWriter) table(findings []Finding) error {
	rows := make([][]string, len(findings))
	for i, f := range findings {
		rows[i] = []string{f.Severity.String(), Printable(f.Rule), Printable(f.Location), Printable(layerCell(f)), Printable(f.Secret), Printable(details(f))}
	}
	widths := columnWidths(rows, t.width)
	tbl := tablewriter.NewTable(t.w,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithTrimSpace(tw.Off),
	)
	tbl.Header(tableHeader)
	for i, row := range rows {
		cells := make([]string, len(row))
		for c, v := range row {
			var lines []string
			switch c {
			case colLocation:
				lines = wrapPath(v, widths[c], 0, 0)
			default:
				lines = wrapWords(v, widths[c], 0)
			}
			cells[c] = strings.Join(lines, "\n")
		}
		cells[0] = t.paint(findings[i].Severity, cells[0])
		if cells[4] != "" {
			cells[4] = t.paint(findings[i].Severity, cells[4])
		}
		if err := tbl.Append(cells); err != nil {
			return err
		}
	}
	if t.err != nil {
		return t.err
	}
	return tbl.Render()
}

// columnWidths gives each column its widest cell, then shrinks columns
// until the table fits width (each column takes its content plus " │ "):
// first the layer and details columns (the wider first) down to a
// comfortable width, then the location, then all three to their least.
func columnWidths(rows [][]string, width int) []int {
	widths := make([]int, len(tableHeader))
	for c, h := range tableHeader {
		widths[c] = twwidth.Width(h)
	}
	for _, row := range rows {
		for c, v := range row {
			widths[c] = max(widths[c], twwidth.Width(v))
		}
	}
	// The columns that do not shrink are bounded instead.
	widths[1] = min(widths[1], 32)
	widths[4] = min(widths[4], 12)
	avail := width - (3*len(widths) + 1)
	total := 0
	for _, w := range widths {
		total += w
	}
	for _, step := range []map[int]int{
		{colLayer: 24, colDetails: 28},
		{colLocation: 32},
		{colLayer: 12, colDetails: 16, colLocation: 16},
	} {
		for total > avail {
			best := -1
			for _, c := range []int{colLocation, colDetails, colLayer} {
				if least, ok := step[c]; ok && widths[c] > least && (best < 0 || widths[c] > widths[best]) {
					best = c
				}
			}
			if best < 0 {
				break
			}
			widths[best]--
			total--
		}
	}
	return widths
}

// wrapWords breaks s at spaces into lines of at most width columns (0: no
// limit), keeping its leading spaces, continuation lines indented; a word
// longer than a line is split.
func wrapWords(s string, width, indent int) []string {
	if width <= 0 || twwidth.Width(s) <= width {
		return []string{s}
	}
	body := strings.TrimLeft(s, " ")
	lead := s[:len(s)-len(body)]
	pad := strings.Repeat(" ", indent)
	var lines []string
	cur := ""
	room := width - len(lead)
	for _, word := range strings.Split(body, " ") {
		switch {
		case cur == "":
			cur = word
		case twwidth.Width(cur)+1+twwidth.Width(word) <= room:
			cur += " " + word
		default:
			lines = append(lines, cur)
			cur = word
			room = width - indent
		}
		for twwidth.Width(cur) > room {
			head, rest := splitAt(cur, room)
			lines = append(lines, head)
			cur = rest
			room = width - indent
		}
	}
	lines = append(lines, cur)
	lines[0] = lead + lines[0]
	for i := 1; i < len(lines); i++ {
		lines[i] = pad + lines[i]
	}
	return lines
}

// wrapPath breaks a location after a "/" or "!" into lines of at most
// width columns (0: no limit), the first of which has first columns taken
// already, continuation lines indented; a part longer than a line is
// split.
func wrapPath(s string, width, first, indent int) []string {
	if width <= 0 || first+twwidth.Width(s) <= width {
		return []string{s}
	}
	var parts []string
	for len(s) > 0 {
		i := strings.IndexAny(s, "/!")
		if i < 0 {
			parts = append(parts, s)
			break
		}
		parts = append(parts, s[:i+1])
		s = s[i+1:]
	}
	pad := strings.Repeat(" ", indent)
	var lines []string
	cur := ""
	room := width - first
	for _, p := range parts {
		if cur != "" && twwidth.Width(cur)+twwidth.Width(p) > room {
			lines = append(lines, cur)
			cur = ""
			room = width - indent
		}
		cur += p
		for twwidth.Width(cur) > room {
			head, rest := splitAt(cur, room)
			lines = append(lines, head)
			cur = rest
			room = width - indent
		}
	}
	if cur != "" || len(lines) == 0 {
		lines = append(lines, cur)
	}
	for i := 1; i < len(lines); i++ {
		lines[i] = pad + lines[i]
	}
	return lines
}

// splitAt splits s after at most n columns (at least one rune).
func splitAt(s string, n int) (string, string) {
	w := 0
	for i, r := range s {
		rw := twwidth.Width(string(r))
		if w+rw > n && i > 0 {
			return s[:i], s[i:]
		}
		w += rw
	}
	return s, ""
}

// cut shortens s to at most n columns, ending it with "…" when cut.
func cut(s string, n int) string {
	if twwidth.Width(s) <= n {
		return s
	}
	head, _ := splitAt(s, n-1)
	return head + "…"
}

func layerCell(f Finding) string {
	if f.Layer == 0 {
		return "-"
	}
	s := fmt.Sprintf("%d", f.Layer)
	if f.CreatedBy != "" {
		s += " " + shorten(f.CreatedBy, createdByWidth)
	}
	return s
}

func details(f Finding) string {
	var parts []string
	switch {
	case f.Key == "":
	case f.kind == rules.KindPrivateKey, f.kind == rules.KindSignature:
		parts = append(parts, f.Key) // the key's kind: OPENSSH PRIVATE KEY, role root
	default:
		parts = append(parts, "key "+f.Key)
	}
	if f.KeystoreType != "" {
		parts = append(parts, f.KeystoreType)
	}
	if len(f.Aliases) > 0 {
		parts = append(parts, "private keys: "+strings.Join(f.Aliases, ", "))
	}
	if f.VerifiedBy != "" {
		parts = append(parts, "opens with the password at "+lastMember(f.VerifiedBy))
	}
	if len(f.Opens) > 0 {
		parts = append(parts, "opens "+strings.Join(f.Opens, ", "))
	}
	if f.DeletedInLayer > 0 {
		parts = append(parts, fmt.Sprintf("deleted in layer %d (still in the image)", f.DeletedInLayer))
	}
	return strings.Join(parts, "; ")
}

// lastMember shortens a location chain to its innermost file's base name
// and line (the JSON report keeps the whole chain).
func lastMember(loc string) string {
	if i := strings.LastIndexByte(loc, '!'); i >= 0 {
		loc = loc[i+1:]
	}
	return path.Base(loc)
}

// longHex matches digests in created_by (ADD file:<64 hex> in /dst).
var longHex = regexp.MustCompile(`[0-9a-f]{32,}`)

// shorten collapses runs of white space, abbreviates digests and cuts s
// to n runes.
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	s = longHex.ReplaceAllStringFunc(s, func(h string) string { return h[:7] + "…" })
	s = strings.TrimPrefix(s, "/bin/sh -c ")
	s = strings.TrimPrefix(s, "#(nop) ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
