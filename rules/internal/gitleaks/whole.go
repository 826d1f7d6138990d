package gitleaks

import "github.com/zricethezav/gitleaks/v8/detect"

// ScanWhole runs gitleaks' own detector of the whole config over the whole
// text, as gitleaks itself scans a file: no rule groups, no windows, no
// gates. It is the reference the windows are held to (the differential
// tests of rules compare Scan with it), and costs what gitleaks costs.
func (e *Engine) ScanWhole(name string, data []byte, dst []Finding) []Finding {
	c := collector{findings: dst}
	//lint:ignore SA1019 gitleaks v8's Detect takes detect.Fragment.
	for _, f := range inReportOrder(e.whole().Detect(detect.Fragment{Raw: string(data), FilePath: name})) {
		e.addGitleaks(f.RuleID, f.Description, f.Tags, f.StartLine+1, f.Secret, &c)
	}
	return c.findings
}

// WholeFile is the size under which Scan runs gitleaks on the whole text
// rather than on windows around keyword hits.
const WholeFile = wholeFile
