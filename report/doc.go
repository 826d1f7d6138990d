// Package report turns scan results into what people and machines read:
// a table for terminals and a JSON document with a stable, documented
// schema (see README.md, "JSON report"). Secrets are redacted here unless
// the caller asks otherwise; nothing below this package formats output.
package report
