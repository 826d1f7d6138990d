package scanner_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/internal/testkeys"
	"github.com/peelscan/peel/rules"
	"github.com/peelscan/peel/scanner"
)

// summary is the part of a finding the tests compare.
type summary struct {
	Rule       string
	Location   string
	Layer      int
	Severity   string
	Secret     string
	Verified   bool
	VerifiedBy string
	Aliases    string
	Opens      string
	Deleted    int
}

func summarize(fs []scanner.Finding) []summary {
	out := []summary{}
	for _, f := range fs {
		out = append(out, summary{
			Rule: f.RuleID, Location: f.Location(), Layer: f.Layer, Severity: f.Severity.String(), Secret: f.Secret,
			Verified: f.Verified, VerifiedBy: f.VerifiedBy, Aliases: strings.Join(f.Aliases, ","),
			Opens: strings.Join(f.Opens, ","), Deleted: f.DeletedInLayer,
		})
	}
	return out
}

const propsLoc = "/" + fixture.JarName + "!" + fixture.PropertiesPath

// wantV1 is what the book's v1 image must report: both passwords of the
// jar's application.properties, and both keystores opened by them.
var wantV1 = []summary{
	{Rule: rules.RuleConfigSecret, Location: propsLoc + ":3", Layer: 3, Severity: "critical", Secret: "springboot", Verified: true, Opens: "/opt/keystore.jks,/opt/jwt.jks"},
	{Rule: rules.RuleConfigSecret, Location: propsLoc + ":6", Layer: 3, Severity: "critical", Secret: "springboot", Verified: true, Opens: "/opt/keystore.jks,/opt/jwt.jks"},
	{Rule: rules.RuleKeystoreVerified, Location: "/opt/keystore.jks", Layer: 4, Severity: "critical", Secret: "springboot", Verified: true, VerifiedBy: propsLoc + ":3", Aliases: "spring"},
	{Rule: rules.RuleKeystoreVerified, Location: "/opt/jwt.jks", Layer: 5, Severity: "critical", Secret: "springboot", Verified: true, VerifiedBy: propsLoc + ":6", Aliases: "jwtkey"},
}

func scanImage(t *testing.T, img v1.Image, opts scanner.Options) *scanner.Result {
	t.Helper()
	res, err := scanner.New(opts).ScanImage(context.Background(), img)
	if err != nil {
		t.Fatalf("ScanImage: %v", err)
	}
	return res
}

func mustImage(t *testing.T, build func() (v1.Image, error)) v1.Image {
	t.Helper()
	img, err := build()
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func checkSummaries(t *testing.T, got []scanner.Finding, want []summary) {
	t.Helper()
	if g := summarize(got); !reflect.DeepEqual(g, want) {
		t.Errorf("findings:\n got  %+v\n want %+v", g, want)
	}
}

func TestSTSv1(t *testing.T) {
	res := scanImage(t, mustImage(t, fixture.STSv1), scanner.Options{})
	checkSummaries(t, res.Findings, wantV1)
	if len(res.Incomplete) != 0 {
		t.Errorf("incomplete: %+v", res.Incomplete)
	}
	if len(res.Layers) != 5 || !strings.Contains(res.Layers[2].CreatedBy, "ADD file:") || !strings.HasSuffix(res.Layers[3].CreatedBy, "in /opt/keystore.jks ") {
		t.Errorf("layers not attributed to their history: %+v", res.Layers)
	}
	if res.Platform != "linux/amd64" || !strings.HasPrefix(res.ImageID, "sha256:") {
		t.Errorf("platform %q image id %q", res.Platform, res.ImageID)
	}
	// Four archives: the fat jar and the four stored jars in BOOT-INF/lib,
	// and rt.jar in the JDK layer.
	if res.Stats.Archives != 6 || res.Stats.Layers != 5 {
		t.Errorf("stats %+v", res.Stats)
	}
}

func TestSTSv2IsClean(t *testing.T) {
	res := scanImage(t, mustImage(t, fixture.STSv2), scanner.Options{})
	checkSummaries(t, res.Findings, []summary{})
	if len(res.Incomplete) != 0 {
		t.Errorf("incomplete: %+v", res.Incomplete)
	}
	// The JDK trust store was reached (the image has it) but not reported.
	if res.Stats.Files == 0 {
		t.Error("no files read")
	}
}

func TestHostConfigDirectories(t *testing.T) {
	for section, want := range map[string]int{"10.2.1": 2, "10.2.2": 0} {
		dir := t.TempDir()
		for n, data := range fixture.HostConfig(section) {
			if err := os.WriteFile(filepath.Join(dir, n), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		tgt, err := scanner.Open(context.Background(), "dir:"+dir, scanner.SourceOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := scanner.New(scanner.Options{}).Scan(context.Background(), tgt)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Findings) != want {
			t.Errorf("%s: %d findings, want %d: %+v", section, len(res.Findings), want, summarize(res.Findings))
		}
		for _, f := range res.Findings {
			if !strings.HasPrefix(f.Location(), filepath.ToSlash(dir)+"/application.properties:") {
				t.Errorf("%s: location %q is not the file's path", section, f.Location())
			}
		}
	}
}

// TestTransports scans v1 and v2 through every source kind and expects the
// same findings as the in-memory image gives.
func TestTransports(t *testing.T) {
	dir := t.TempDir()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	for _, tc := range []struct {
		tag   string
		build func() (v1.Image, error)
		want  []summary
	}{
		{"v1", fixture.STSv1, wantV1},
		{"v2", fixture.STSv2, []summary{}},
	} {
		img := mustImage(t, tc.build)
		ref, _ := name.NewTag("prabath/insecure-sts-ch10:" + tc.tag)
		archive := filepath.Join(dir, tc.tag+".tar")
		if err := tarball.WriteToFile(archive, ref, img); err != nil {
			t.Fatal(err)
		}
		ociDir := filepath.Join(dir, tc.tag+"-oci")
		p, err := layout.Write(ociDir, empty.Index)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tc.tag})); err != nil {
			t.Fatal(err)
		}
		ociArchive := filepath.Join(dir, tc.tag+"-oci.tar")
		tarDir(t, ociDir, ociArchive)
		gzArchive := filepath.Join(dir, tc.tag+".tar.gz")
		if b, err := os.ReadFile(archive); err == nil {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(b)
			zw.Close()
			if err := os.WriteFile(gzArchive, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		saved := filepath.Join(dir, tc.tag+"-save.tar")
		if err := fixture.WriteDockerSave(saved, img, "prabath/insecure-sts-ch10:"+tc.tag); err != nil {
			t.Fatal(err)
		}
		regRef := host + "/prabath/insecure-sts-ch10:" + tc.tag
		if err := remote.Write(mustRef(t, regRef), img); err != nil {
			t.Fatal(err)
		}

		for _, in := range []struct{ input, kind string }{
			{"docker-archive:" + archive, scanner.KindDockerArchive},
			{archive, scanner.KindDockerArchive},
			{"docker-archive:" + gzArchive, scanner.KindDockerArchive},
			{gzArchive, scanner.KindDockerArchive},
			{saved, scanner.KindDockerArchive},
			{"oci:" + ociDir, scanner.KindOCI},
			{"oci:" + ociDir + ":" + tc.tag, scanner.KindOCI},
			{ociDir, scanner.KindOCI},
			{"oci-archive:" + ociArchive, scanner.KindOCIArchive},
			{ociArchive, scanner.KindOCIArchive},
			{regRef, scanner.KindRegistry},
		} {
			t.Run(tc.tag+"/"+in.input[len(dir)/2:], func(t *testing.T) {
				tgt, err := scanner.Open(context.Background(), in.input, scanner.SourceOptions{})
				if err != nil {
					t.Fatalf("Open(%q): %v", in.input, err)
				}
				defer tgt.Close()
				if tgt.Kind != in.kind {
					t.Errorf("kind %q, want %q", tgt.Kind, in.kind)
				}
				res, err := scanner.New(scanner.Options{}).Scan(context.Background(), tgt)
				if err != nil {
					t.Fatal(err)
				}
				checkSummaries(t, res.Findings, tc.want)
			})
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notImage := filepath.Join(dir, "files.tar")
	tarDir(t, "../testdata/keytool", notImage)
	for _, tc := range []struct{ input, msg string }{
		{"Bad::Ref", "no such file or image"},
		{filepath.Join(dir, "missing.tar"), "no such file"},
		{"docker-archive:" + filepath.Join(dir, "missing.tar"), "no such file"},
		{notImage, "not a container image"},
		{"docker-archive:" + notImage, "not a docker-archive: the tar has no manifest.json"},
		{"docker-archive:../testdata/keytool/make.sh", "not a docker-archive: not a tar file"},
		{"oci-archive:" + notImage, "not an oci-archive"},
		{"oci:" + dir, "not an OCI layout"},
		{"dir:" + filepath.Join(dir, "nope"), "no such file"},
	} {
		_, err := scanner.Open(context.Background(), tc.input, scanner.SourceOptions{})
		var ie *scanner.InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), tc.input+": ") {
			t.Errorf("Open(%q) = %v; want an InputError naming the input and saying %q", tc.input, err, tc.msg)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("Open(%q): error spans lines: %q", tc.input, err)
		}
	}
}

// layers builds an image of the given layer tars.
func layers(t *testing.T, tars ...[]byte) v1.Image {
	t.Helper()
	var ls []fixture.Layer
	for i, b := range tars {
		ls = append(ls, fixture.Layer{Tar: b, CreatedBy: fmt.Sprintf("step %d", i+1)})
	}
	return mustImage(t, fixture.Image{Layers: ls}.Build)
}

func TestWhiteouts(t *testing.T) {
	secret := fixture.File{Name: "app/config/application.yml", Data: []byte("spring:\n  datasource:\n    password: wh1te-out-pw\n")}
	other := fixture.File{Name: "srv/application.properties", Data: []byte("db.password=opaque-pw-1\n")}
	kept := fixture.File{Name: "etc/app/application.properties", Data: []byte("db.password=kept-pw-1\n")}
	img := layers(t,
		fixture.Tar(secret, other, kept),
		fixture.Tar(fixture.File{Name: "app/config/.wh.application.yml"}),
		fixture.Tar(fixture.File{Name: "srv/.wh..wh..opq"}, fixture.File{Name: "srv/new.txt", Data: []byte("x")}),
	)
	res := scanImage(t, img, scanner.Options{})
	got := map[string]int{}
	for _, f := range res.Findings {
		got[f.Location()] = f.DeletedInLayer
	}
	want := map[string]int{
		"/app/config/application.yml:3":     2,
		"/srv/application.properties:1":     3,
		"/etc/app/application.properties:1": 0,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deleted-in-layer by location = %v, want %v", got, want)
	}
}

func TestNestedArchives(t *testing.T) {
	props := fixture.File{Name: "BOOT-INF/classes/application.properties", Data: []byte("a=1\nspring.datasource.password=n3sted-pw\n")}
	inner := fixture.Zip(nil, props)
	launch := []byte("#!/bin/bash\n#\n# Spring Boot launch script\n" + strings.Repeat("# filler line of the launch script\n", 200))
	execJar := fixture.Zip(launch, fixture.File{Name: "BOOT-INF/lib/inner.jar", Data: inner, Stored: true})
	war := fixture.Zip(nil, fixture.File{Name: "WEB-INF/lib/lib.jar", Data: fixture.Zip(nil,
		fixture.File{Name: "application.yml", Data: []byte("app:\n  client-secret: w4r-secret\n")})})
	img := layers(t, fixture.Tar(
		fixture.File{Name: "app/app.jar", Data: execJar, Mode: 0o755},
		fixture.File{Name: "usr/local/tomcat/webapps/ROOT.war", Data: war},
		fixture.File{Name: "opt/certs/blob.dat", Data: testkeys.JKS("n3sted-pw", "tls")},
	))
	res := scanImage(t, img, scanner.Options{MemoryBuffer: 1024}) // force spilling to temp files
	var locs []string
	for _, f := range res.Findings {
		locs = append(locs, f.Location()+" "+f.RuleID)
	}
	want := []string{
		"/app/app.jar!BOOT-INF/lib/inner.jar!BOOT-INF/classes/application.properties:2 config-secret",
		"/opt/certs/blob.dat keystore-verified",
		"/usr/local/tomcat/webapps/ROOT.war!WEB-INF/lib/lib.jar!application.yml:2 config-secret",
	}
	if !reflect.DeepEqual(locs, want) {
		t.Errorf("locations:\n got  %q\n want %q", locs, want)
	}
	if len(res.Incomplete) != 0 {
		t.Errorf("incomplete: %+v", res.Incomplete)
	}
}

func TestDepthLimitIsReported(t *testing.T) {
	data := fixture.Zip(nil, fixture.File{Name: "application.properties", Data: []byte("deep.password=d33p-pw\n")})
	for i := 0; i < 10; i++ {
		data = fixture.Zip(nil, fixture.File{Name: fmt.Sprintf("level%d.jar", i), Data: data})
	}
	img := layers(t, fixture.Tar(fixture.File{Name: "deep.jar", Data: data}))
	res := scanImage(t, img, scanner.Options{ResultOptions: scanner.ResultOptions{MaxDepth: 8}})
	if len(res.Findings) != 0 {
		t.Errorf("found %+v past the depth limit", summarize(res.Findings))
	}
	if len(res.Incomplete) != 1 || !strings.Contains(res.Incomplete[0].Reason, "depth limit") {
		t.Fatalf("incomplete = %+v, want one depth-limit entry", res.Incomplete)
	}
	if n := len(res.Incomplete[0].Path); n != 9 {
		t.Errorf("depth limit reported at a chain of %d, want 9", n)
	}
	res = scanImage(t, img, scanner.Options{ResultOptions: scanner.ResultOptions{MaxDepth: 12}})
	if len(res.Findings) != 1 || len(res.Incomplete) != 0 {
		t.Errorf("with --max-depth 12: findings %+v incomplete %+v", summarize(res.Findings), res.Incomplete)
	}
}

func TestSizeLimitIsReported(t *testing.T) {
	big := []byte("x.password=big-file-pw\n" + strings.Repeat("# padding\n", 200) + "y.password=past-the-cut\n")
	img := layers(t, fixture.Tar(fixture.File{Name: "app/application.properties", Data: big}))
	res := scanImage(t, img, scanner.Options{ResultOptions: scanner.ResultOptions{MaxFileSize: 100}})
	if len(res.Findings) != 1 || res.Findings[0].Secret != "big-file-pw" {
		t.Errorf("findings %+v; want only the one before the cut", summarize(res.Findings))
	}
	if len(res.Incomplete) != 1 || !strings.Contains(res.Incomplete[0].Reason, "only the first 100 bytes") {
		t.Errorf("incomplete %+v; want the cut reported", res.Incomplete)
	}
}

func TestScanSingleJar(t *testing.T) {
	jar := filepath.Join(t.TempDir(), "app.jar")
	if err := os.WriteFile(jar, fixture.FatJar(true), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, input := range []string{jar, "dir:" + jar} {
		tgt, err := scanner.Open(context.Background(), input, scanner.SourceOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := scanner.New(scanner.Options{}).Scan(context.Background(), tgt)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Findings) != 2 || res.Findings[0].Location() != filepath.ToSlash(jar)+"!"+fixture.PropertiesPath+":3" {
			t.Errorf("%s: %+v", input, summarize(res.Findings))
		}
	}
}

// TestTruncatedLayer: what a truncated local layer held before the cut is
// scanned and the cut reported; a scan where no layer could be read is an
// error.
func TestTruncatedLayer(t *testing.T) {
	good := fixture.Tar(fixture.File{Name: "app/application.properties", Data: []byte("a.password=before-the-cut\n")})
	cut := fixture.Tar(fixture.File{Name: "b.txt", Data: bytes.Repeat([]byte("b"), 4096)}, fixture.File{Name: "c.properties", Data: []byte("c.password=after-the-cut\n")})
	res := scanImage(t, layers(t, good, cut[:3000]), scanner.Options{})
	if len(res.Findings) != 1 || res.Findings[0].Secret != "before-the-cut" {
		t.Errorf("findings %+v", summarize(res.Findings))
	}
	reported := false
	for _, in := range res.Incomplete {
		reported = reported || strings.Contains(in.Reason, "reading layer 2") && in.Layer == 2
	}
	if !reported {
		t.Errorf("incomplete %+v; want layer 2 reported", res.Incomplete)
	}
	if _, err := scanner.New(scanner.Options{}).ScanImage(context.Background(), layers(t, good[:100])); err == nil || !strings.Contains(err.Error(), "no layer could be read") {
		t.Errorf("unreadable image: err = %v", err)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tarDir writes the files under dir into a tar at dst.
func tarDir(t *testing.T, dir, dst string) {
	t.Helper()
	if err := fixture.TarTree(dir, dst, nil); err != nil {
		t.Fatal(err)
	}
}

// TestNestedCompression opens tar.zst, single-file .gz and .zst, in a layer
// and inside a zip, by content.
func TestNestedCompression(t *testing.T) {
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Name = "inner.properties"
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
	props := func(pw string) []byte { return []byte("x=1\ndb.password=" + pw + "\n") }
	img := layers(t, fixture.Tar(
		fixture.File{Name: "opt/bundle.tar.zst", Data: zst(fixture.Tar(fixture.File{Name: "conf/app.properties", Data: props("tar-zst-pw")}))},
		fixture.File{Name: "opt/single.properties.gz", Data: gz(props("single-gz-pw"))},
		fixture.File{Name: "opt/single.properties.zst", Data: zst(props("single-zst-pw"))},
		fixture.File{Name: "opt/in.zip", Data: fixture.Zip(nil, fixture.File{Name: "cfg/app.properties.zst", Data: zst(props("zip-zst-pw"))})},
	))
	res := scanImage(t, img, scanner.Options{})
	got := map[string]string{}
	for _, f := range res.Findings {
		got[f.Location()] = f.Secret
	}
	want := map[string]string{
		"/opt/bundle.tar.zst!conf/app.properties:2":           "tar-zst-pw",
		"/opt/single.properties.gz!inner.properties:2":        "single-gz-pw",
		"/opt/single.properties.zst!single.properties:2":      "single-zst-pw",
		"/opt/in.zip!cfg/app.properties.zst!app.properties:2": "zip-zst-pw",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findings %v, want %v (incomplete %+v)", got, want, res.Incomplete)
	}
}

// TestClassMembersAreNotInflated: a compressed .class member is taken at
// its name and not inflated (so even a corrupt one reads nothing), while
// any other member is inflated and sniffed, whatever its name.
func TestClassMembersAreNotInflated(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"com/example/Broken.class", "com/example/broken.bin"} {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Deflate, CompressedSize64: 16, UncompressedSize64: 64})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(bytes.Repeat([]byte{0xff}, 16)) // not a deflate stream
	}
	w, _ := zw.Create("BOOT-INF/classes/application.properties")
	w.Write([]byte("spring.datasource.password=class-test-pw\n"))
	zw.Close()
	jar := filepath.Join(t.TempDir(), "app.jar")
	if err := os.WriteFile(jar, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	tgt, err := scanner.Open(context.Background(), jar, scanner.SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := scanner.New(scanner.Options{}).Scan(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Secret != "class-test-pw" {
		t.Errorf("findings %+v", summarize(res.Findings))
	}
	var unread []string
	for _, inc := range res.Incomplete {
		unread = append(unread, inc.Path[len(inc.Path)-1])
	}
	if !reflect.DeepEqual(unread, []string{"com/example/broken.bin"}) {
		t.Errorf("unread members %q, want only the .bin one", unread)
	}
	if res.Stats.Files != 4 {
		t.Errorf("files %d, want 4 (the jar and its three members)", res.Stats.Files)
	}
}

// TestMalformedFileIsIncomplete: a configuration file whose second YAML
// document does not parse yields the first document's password, and the
// gap is in every report, with or without --explain.
func TestMalformedFileIsIncomplete(t *testing.T) {
	doc := []byte("spring:\n  datasource:\n    password: kept-pw-1\n---\nspring:\n  datasource:\n\tpassword: lost-pw-2\n    url: [\n")
	img := layers(t, fixture.Tar(fixture.File{Name: "app/application.yml", Data: doc}))
	for _, explain := range []bool{false, true} {
		res := scanImage(t, img, scanner.Options{ResultOptions: scanner.ResultOptions{Explain: explain}})
		if len(res.Findings) != 1 || res.Findings[0].Secret != "kept-pw-1" {
			t.Errorf("explain=%v: findings %+v", explain, summarize(res.Findings))
		}
		if len(res.Incomplete) != 1 || !strings.Contains(res.Incomplete[0].Reason, "malformed YAML document at line 5") ||
			res.Incomplete[0].Path[0] != "/app/application.yml" {
			t.Errorf("explain=%v: incomplete %+v, want the malformed document", explain, res.Incomplete)
		}
	}
}
