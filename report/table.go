package report

import (
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/peelscan/peel/rules"
)

type tableWriter struct{}

var _ Writer = tableWriter{}

// Widths of the table's wrapped columns, and how much of a layer's
// created_by the table shows.
const (
	layerWidth     = 30
	detailsWidth   = 48
	createdByWidth = 56
)

// Write renders, per image, a table of findings with a short fix per row,
// the full remediation of each rule seen, what could not be scanned, and a
// closing count. Every string from the input is shown through Printable:
// a name cannot move the cursor or print a line of its own.
func (tableWriter) Write(w io.Writer, r *Report) error {
	for i, img := range r.Images {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s (%s", Printable(img.Input), img.Kind)
		if img.Platform != "" {
			fmt.Fprintf(w, ", %s", Printable(img.Platform))
		}
		if img.Stats.Layers > 0 {
			fmt.Fprintf(w, ", %d layers", img.Stats.Layers)
		}
		fmt.Fprintf(w, ", %d files, %d archives)\n", img.Stats.Files, img.Stats.Archives)
		writeSignatures(w, img.Signatures)
		if len(img.Findings) == 0 {
			fmt.Fprintln(w, "No secrets found.")
		} else if err := findingsTable(w, img); err != nil {
			return err
		}
		for _, in := range img.Incomplete {
			fmt.Fprintf(w, "scan incomplete: %s: %s\n", Printable(in.Location), Printable(in.Reason))
		}
		for _, d := range img.Dismissed {
			fmt.Fprintf(w, "dismissed: %s", Printable(d.Location))
			if d.Key != "" {
				fmt.Fprintf(w, " (%s)", Printable(d.Key))
			}
			fmt.Fprintf(w, ": %s\n", Printable(d.Reason))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, SummaryLine(r))
	return nil
}

// SummaryLine is the closing line of a scan: findings by severity, what was
// suppressed or in the baseline, what could not be scanned, what was read
// and how long it took.
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
	if s.Incomplete > 0 {
		fmt.Fprintf(&b, "; %d part(s) not fully scanned", s.Incomplete)
	}
	fmt.Fprintf(&b, ". Read %d layer(s)", s.Layers)
	if s.CachedLayers > 0 {
		fmt.Fprintf(&b, " (%d from the cache)", s.CachedLayers)
	}
	fmt.Fprintf(&b, ", %d file(s), %d archive(s), %s in %.1fs.", s.Files, s.Archives, humanBytes(s.Bytes), s.Seconds)
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

func findingsTable(w io.Writer, img Image) error {
	t := tablewriter.NewTable(w,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNormal),
		tablewriter.WithTrimSpace(tw.Off),
	)
	// Locations stay whole, to be copied; the layer and details columns,
	// which have spaces, wrap.
	t.Configure(func(cfg *tablewriter.Config) {
		cfg.Row.ColMaxWidths.PerColumn = tw.NewMapper[int, int]().Set(3, layerWidth).Set(5, detailsWidth)
	})
	t.Header("SEVERITY", "RULE", "LOCATION", "LAYER", "SECRET", "DETAILS")
	var seen []string
	fixes := map[string]string{}
	for _, f := range img.Findings {
		fixes[f.Rule] = f.Remediation
		if err := t.Append(f.Severity.String(), Printable(f.Rule), Printable(f.Location), Printable(layerCell(f)), Printable(f.Secret), Printable(details(f))); err != nil {
			return err
		}
		if !contains(seen, f.Rule) {
			seen = append(seen, f.Rule)
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	for _, id := range seen {
		fmt.Fprintf(w, "fix %s: %s\n", Printable(id), Printable(fixes[id]))
	}
	return nil
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

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
