package gitleaks

import (
	"sort"

	"github.com/zricethezav/gitleaks/v8/report"
)

// inReportOrder sorts one Detect call's findings by where they are, then
// by rule ID and secret: gitleaks' detector walks its rules in map order,
// so the same fragment yields the same findings in an order that changes
// from run to run.
func inReportOrder(fs []report.Finding) []report.Finding {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := &fs[i], &fs[j]
		switch {
		case a.StartLine != b.StartLine:
			return a.StartLine < b.StartLine
		case a.StartColumn != b.StartColumn:
			return a.StartColumn < b.StartColumn
		case a.EndLine != b.EndLine:
			return a.EndLine < b.EndLine
		case a.EndColumn != b.EndColumn:
			return a.EndColumn < b.EndColumn
		case a.RuleID != b.RuleID:
			return a.RuleID < b.RuleID
		}
		return a.Secret < b.Secret
	})
	return fs
}
