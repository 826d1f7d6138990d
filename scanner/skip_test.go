package scanner_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/scanner"
)

// TestSkipGlobs: --skip-files and --skip-dirs keep files from being read
// at all, in an image layer, inside an archive and in a directory, with
// or without a leading "/".
func TestSkipGlobs(t *testing.T) {
	img := mustImage(t, fixture.STSv1)
	const jarProps = "/" + fixture.JarName + "!" + fixture.PropertiesPath
	for _, tc := range []struct {
		name        string
		files, dirs []string
		want        []string // the findings' locations and rules left
		skipped     bool
	}{
		{"nothing skipped", nil, nil, []string{jarProps + ":3 config-secret", jarProps + ":6 config-secret", "/opt/jwt.jks keystore-verified", "/opt/keystore.jks keystore-verified"}, false},
		{"a file glob", []string{"/opt/*.jks"}, nil, []string{jarProps + ":3 config-secret", jarProps + ":6 config-secret"}, true},
		{"no leading slash", []string{"opt/jwt.jks"}, nil, []string{jarProps + ":3 config-secret", jarProps + ":6 config-secret", "/opt/keystore.jks keystore-verified"}, true},
		// Without the jar's passwords, the keystores still open with
		// springboot from the default password list.
		{"the jar, so none of its members", []string{"**/*.jar"}, nil, []string{"/opt/jwt.jks keystore-verified", "/opt/keystore.jks keystore-verified"}, true},
		{"a directory inside an archive", nil, []string{"BOOT-INF/classes"}, []string{"/opt/jwt.jks keystore-verified", "/opt/keystore.jks keystore-verified"}, true},
		{"a directory of the layer", nil, []string{"/opt"}, []string{jarProps + ":3 config-secret", jarProps + ":6 config-secret"}, true},
		{"globs that match nothing", []string{"/nowhere/**"}, []string{"**/nowhere"}, []string{jarProps + ":3 config-secret", jarProps + ":6 config-secret", "/opt/jwt.jks keystore-verified", "/opt/keystore.jks keystore-verified"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := scanImage(t, img, scanner.Options{ResultOptions: scanner.ResultOptions{SkipFiles: tc.files, SkipDirs: tc.dirs}})
			got := []string{}
			for _, f := range res.Findings {
				got = append(got, f.Location()+" "+f.RuleID)
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("findings %q, want %q", got, tc.want)
			}
			if (res.Stats.Skipped > 0) != tc.skipped {
				t.Errorf("%d files skipped", res.Stats.Skipped)
			}
		})
	}

	// A directory: skipped files are never opened, skipped directories
	// never listed (this one cannot be: listing it would be reported).
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "conf"), 0o755)
	os.MkdirAll(filepath.Join(dir, "vendor", "deep"), 0o755)
	os.WriteFile(filepath.Join(dir, "conf", "app.properties"), []byte("db.password=s3cr3t-value-1\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "conf", "other.properties"), []byte("db.password=s3cr3t-value-2\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "vendor", "deep", "x.properties"), []byte("db.password=s3cr3t-value-3\n"), 0o644)
	os.Chmod(filepath.Join(dir, "vendor"), 0o300)
	defer os.Chmod(filepath.Join(dir, "vendor"), 0o755)
	res, err := scanner.New(scanner.Options{ResultOptions: scanner.ResultOptions{SkipFiles: []string{"**/other.*"}, SkipDirs: []string{"**/vendor"}}}).ScanPath(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || !strings.HasSuffix(res.Findings[0].Location(), "conf/app.properties:1") || len(res.Incomplete) != 0 || res.Stats.Skipped != 1 {
		t.Errorf("findings %+v incomplete %+v stats %+v", res.Findings, res.Incomplete, res.Stats)
	}
}
