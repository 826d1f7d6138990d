package rules

import (
	"strings"

	"github.com/peelscan/peel/rules/internal/textscan"
)

// pgpass reads PostgreSQL's password file.
type pgpass struct{}

func (pgpass) Info() Info {
	return Info{Name: "pgpass", Version: 1, Format: true, Rules: []Rule{
		configSecret.with(
			file("/root/.pgpass", "# host:port:db:user:pw\ndb:5432:*:app:pg\\:pass-1\n*:*:*:*:\n", at(2, "db:5432:*:app", "pg:pass-1")),
			file("/root/.pgpass", "db:5432:*:app:${PGPASSWORD}\nnot a pgpass line\n"),
		),
	}}
}

func (pgpass) Applies(path []string) bool { return isName(fileName(path), ".pgpass", "pgpass.conf") }

func (pgpass) Detect(f *File, c *Collector) { scanPgpass(f.Data, c) }

// scanPgpass reads ~/.pgpass: hostname:port:database:username:password,
// with \: and \\ escapes.
func scanPgpass(data []byte, c *Collector) {
	textscan.ForEachLine(data, func(line []byte, n int) {
		s := string(line)
		if strings.HasPrefix(strings.TrimSpace(s), "#") {
			return
		}
		var fields []string
		var cur strings.Builder
		for i := 0; i < len(s); i++ {
			switch {
			case s[i] == '\\' && i+1 < len(s):
				i++
				cur.WriteByte(s[i])
			case s[i] == ':' && len(fields) < 4:
				fields = append(fields, cur.String())
				cur.Reset()
			default:
				cur.WriteByte(s[i])
			}
		}
		if len(fields) != 4 {
			return
		}
		pw := cur.String()
		key := strings.Join(fields, ":")
		if _, _, ok, reason := ClassifyValue(pw); !ok {
			c.Dismiss(RuleConfigSecret, n, key, reason)
			return
		}
		c.Add(newFinding(RuleConfigSecret, n, key, pw))
	})
}
