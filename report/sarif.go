package report

import (
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/owenrumney/go-sarif/v2/sarif"

	"github.com/peelscan/peel/rules"
)

// InformationURI is where SARIF consumers send people to learn about peel.
const InformationURI = "https://github.com/peelscan/peel"

// FingerprintKey names peel's fingerprint in SARIF partialFingerprints; it
// changed with what the fingerprint hashes (peel/v1 hashed the secret).
const FingerprintKey = "peel/v2"

type sarifWriter struct{}

var _ Writer = sarifWriter{}

// Write renders the report as one SARIF 2.1.0 run (GitHub code scanning
// takes one run per tool and category): a rule per peel rule with findings,
// a result per finding, and every "scan incomplete" as a tool notification.
func (sarifWriter) Write(w io.Writer, r *Report) error {
	log, err := sarif.New(sarif.Version210)
	if err != nil {
		return err
	}
	run := sarif.NewRunWithInformationURI("peel", InformationURI)
	// SARIF consumers compare versions numerically: a build that is not a
	// release (a commit, "dev") is written as 0.0.0-BUILD.
	version := r.Tool.Version
	if version == "" || version[0] < '0' || version[0] > '9' {
		if !semver.MatchString(version) {
			version = "0.0.0-" + strings.Trim(version, "-")
		}
	}
	version = strings.TrimPrefix(version, "v")
	run.Tool.Driver.Version = &version
	if semver.MatchString(r.Tool.Version) {
		v := strings.TrimPrefix(r.Tool.Version, "v")
		run.Tool.Driver.SemanticVersion = &v
	}
	for _, rule := range r.Rules {
		pb := sarif.NewPropertyBag()
		pb.Add("security-severity", securitySeverity(rule.Severity))
		pb.Add("tags", []string{"security", "secret", rule.Severity.String()})
		pb.Add("precision", "high")
		run.AddRule(rule.ID).
			WithName(ruleName(rule.ID)).
			WithShortDescription(sarif.NewMultiformatMessageString(rule.Title)).
			WithFullDescription(sarif.NewMultiformatMessageString(rule.Description)).
			WithHelp(sarif.NewMultiformatMessageString(rule.Description + "\n\nRemediation: " + rule.Remediation).
				WithMarkdown("**" + rule.Title + "**\n\n" + rule.Description + "\n\n**Remediation:** " + rule.Remediation)).
			WithHelpURI(InformationURI + "#rules").
			WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(level(rule.Severity))).
			WithProperties(pb.Properties)
	}
	inv := sarif.NewInvocation().WithExecutionSuccess(r.Summary.Errors == 0)
	for _, img := range r.Images {
		if img.Error != "" {
			inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarif.NewNotification().
				WithLevel("error").
				WithMessage(sarif.NewTextMessage(Printable(fmt.Sprintf("not scanned: %s: %s", img.Input, img.Error)))))
		}
		for _, f := range img.Findings {
			run.AddResult(sarifResult(img, f))
		}
		// Findings the ignore file silences stay in the log, marked as
		// suppressed with the entry and its reason; findings in the baseline
		// are known and left out.
		for _, f := range img.Suppressed {
			if f.Suppression.Kind != SuppressedByIgnoreFile {
				continue
			}
			res := sarifResult(img, f)
			why := f.Suppression.Entry
			if f.Suppression.Reason != "" {
				why += ": " + f.Suppression.Reason
			}
			res.AddSuppression(sarif.NewSuppression("external").
				WithStatus("accepted").
				WithLocation(res.Locations[0]).
				WithGuid(guid(f.Fingerprint)).
				WithJustifcation(why))
			run.AddResult(res)
		}
		for _, in := range img.Incomplete {
			inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarif.NewNotification().
				WithLevel("warning").
				WithMessage(sarif.NewTextMessage(Printable(fmt.Sprintf("scan incomplete: %s: %s: %s", img.Input, in.Location, in.Reason)))))
		}
	}
	if sigs := sarifSignatures(r); len(sigs) > 0 {
		pb := sarif.NewPropertyBag()
		pb.Add("signatures", sigs)
		run.AttachPropertyBag(pb)
	}
	run.AddInvocations(inv)
	log.AddRun(run)
	return log.PrettyWrite(w)
}

func sarifResult(img Image, f Finding) *sarif.Result {
	loc := sarif.NewPhysicalLocation().WithArtifactLocation(sarif.NewSimpleArtifactLocation(ArtifactURI(f.Path)))
	if f.Line > 0 {
		loc.WithRegion(sarif.NewSimpleRegion(f.Line, f.Line))
	}
	pb := sarif.NewPropertyBag()
	pb.Add("image", img.Input)
	pb.Add("location", f.Location)
	if f.Layer > 0 {
		pb.Add("layer", f.Layer)
		if f.Layer <= len(img.Layers) {
			pb.Add("layerDiffId", img.Layers[f.Layer-1].DiffID)
		}
		pb.Add("createdBy", f.CreatedBy)
	}
	if f.DeletedInLayer > 0 {
		pb.Add("deletedInLayer", f.DeletedInLayer)
	}
	pb.Add("verified", f.Verified)
	if f.VerifiedBy != "" {
		pb.Add("verifiedBy", f.VerifiedBy)
	}
	if len(f.Opens) > 0 {
		pb.Add("opens", f.Opens)
	}
	if f.Key != "" {
		pb.Add("key", f.Key)
	}
	if f.Secret != "" {
		pb.Add("secret", f.Secret)
	}
	pb.Add("severity", f.Severity.String())
	res := sarif.NewRuleResult(f.Rule).
		WithLevel(level(f.Severity)).
		WithMessage(sarif.NewTextMessage(Printable(message(img, f)))).
		WithLocations([]*sarif.Location{sarif.NewLocationWithPhysicalLocation(loc)}).
		WithPartialFingerPrints(map[string]interface{}{FingerprintKey: f.Fingerprint})
	res.AttachPropertyBag(pb)
	return res
}

// message is the result text: what, where (the readable location chain),
// which layer, the redacted secret, and what proves it.
func message(img Image, f Finding) string {
	var b strings.Builder
	b.WriteString(f.Title)
	if f.Key != "" {
		fmt.Fprintf(&b, " (%s)", f.Key)
	}
	fmt.Fprintf(&b, " at %s in %s", f.Location, img.Input)
	if f.Layer > 0 {
		fmt.Fprintf(&b, ", layer %d", f.Layer)
		if f.CreatedBy != "" {
			fmt.Fprintf(&b, " (%s)", shorten(f.CreatedBy, 80))
		}
	}
	b.WriteString(".")
	if f.Secret != "" {
		fmt.Fprintf(&b, " Value: %s.", f.Secret)
	}
	if d := details(f); d != "" {
		fmt.Fprintf(&b, " %s.", strings.ToUpper(d[:1])+d[1:])
	}
	return b.String()
}

// ArtifactURI turns a location chain into a relative URI reference (RFC
// 3986) for SARIF: members joined with "!", the leading "/" of a layer path
// dropped (a relative reference needs no uriBaseId), and every character
// outside the unreserved and sub-delimiter sets percent-encoded (":" too,
// so that no segment reads as a scheme). Image-config locations become
// image-config/Env/NAME and image-config/history/N.
func ArtifactURI(chain []string) string {
	var parts []string
	for i, p := range chain {
		if i == 0 {
			if p == "image signature" {
				p = "image-signature"
			}
			if strings.HasPrefix(p, "config ") || strings.HasPrefix(p, "history[") {
				p = "image-config/" + strings.NewReplacer("config ", "", " created_by", "", " ", "/", "[", "/", "]", "").Replace(p)
			}
			p = strings.TrimLeft(p, "/")
		}
		parts = append(parts, escapeURIPath(p))
	}
	return strings.Join(parts, "!")
}

func escapeURIPath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("-._~!$&'()*+,;=@/", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// guid formats a 32-hex-digit fingerprint as a GUID.
func guid(fp string) string {
	if len(fp) != 32 {
		fp = fmt.Sprintf("%032s", fp)
	}
	return fp[0:8] + "-" + fp[8:12] + "-" + fp[12:16] + "-" + fp[16:20] + "-" + fp[20:32]
}

// level maps a severity to a SARIF level.
func level(s rules.Severity) string {
	switch s {
	case rules.SeverityCritical, rules.SeverityHigh:
		return "error"
	case rules.SeverityMedium:
		return "warning"
	}
	return "note"
}

// securitySeverity is GitHub code scanning's 0–10 score: over 9 critical,
// 7 to 8.9 high, 4 to 6.9 medium, below 4 low.
func securitySeverity(s rules.Severity) string {
	switch s {
	case rules.SeverityCritical:
		return "9.5"
	case rules.SeverityHigh:
		return "8.0"
	case rules.SeverityMedium:
		return "5.5"
	}
	return "3.0"
}

// ruleName is a rule ID in the PascalCase SARIF names use:
// config-secret → ConfigSecret, gitleaks.aws-access-token →
// GitleaksAwsAccessToken.
func ruleName(id string) string {
	var b strings.Builder
	up := true
	for _, r := range id {
		if r == '-' || r == '.' || r == '_' {
			up = true
			continue
		}
		if up && 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		up = false
		b.WriteRune(r)
	}
	return b.String()
}

var semver = regexp.MustCompile(`^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$`)
