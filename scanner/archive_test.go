package scanner_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/scanner"
)

// TestArchiveLimitsEveryFormat: the entry and depth limits hold the same
// way for every archive format, since they are enforced where members are
// handed out, not per format.
func TestArchiveLimitsEveryFormat(t *testing.T) {
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	zst := func(b []byte) []byte {
		var buf bytes.Buffer
		w, _ := zstd.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	var members []fixture.File
	for i := 0; i < 5; i++ {
		members = append(members, fixture.File{Name: fmt.Sprintf("conf/m%d.properties", i), Data: []byte(fmt.Sprintf("db.password=member-%d-pw\n", i))})
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"app.zip", fixture.Zip(nil, members...)},
		{"app.tar", fixture.Tar(members...)},
		{"app.tar.gz", gz(fixture.Tar(members...))},
		{"app.tar.zst", zst(fixture.Tar(members...))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := layers(t, fixture.Tar(fixture.File{Name: "opt/" + tc.name, Data: tc.data}))
			// fixture.Tar adds the conf/ directory entry: tars hand out
			// regular files only, so every format yields the 5 files.
			res := scanImage(t, img, scanner.Options{ResultOptions: scanner.ResultOptions{MaxEntries: 3}})
			if len(res.Findings) != 3 || len(res.Incomplete) != 1 || !strings.Contains(res.Incomplete[0].Reason, "more than 3 entries") ||
				res.Incomplete[0].Path[0] != "/opt/"+tc.name {
				t.Errorf("--max-entries 3: findings %d, incomplete %+v", len(res.Findings), res.Incomplete)
			}
			res = scanImage(t, img, scanner.Options{ResultOptions: scanner.ResultOptions{MaxDepth: 1}})
			if len(res.Findings) != 5 {
				t.Errorf("--max-depth 1: %d findings, want 5", len(res.Findings))
			}
			nested := layers(t, fixture.Tar(fixture.File{Name: "opt/outer.zip", Data: fixture.Zip(nil, fixture.File{Name: tc.name, Data: tc.data})}))
			res = scanImage(t, nested, scanner.Options{ResultOptions: scanner.ResultOptions{MaxDepth: 1}})
			if len(res.Findings) != 0 || len(res.Incomplete) != 1 || !strings.Contains(res.Incomplete[0].Reason, "past the depth limit (--max-depth 1)") {
				t.Errorf("nested, --max-depth 1: findings %d, incomplete %+v", len(res.Findings), res.Incomplete)
			}
			if res.Stats.Archives != 1 {
				t.Errorf("archives %d, want 1 (the outer zip)", res.Stats.Archives)
			}
		})
	}
}
