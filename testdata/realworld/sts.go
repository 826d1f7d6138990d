package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/peelscan/peel/internal/fixture"
)

// The faithful STS pair: the book's prabath/insecure-sts-ch10 images
// rebuilt from real content. Base layers: Debian's base-files and
// ca-certificates, then the OpenJDK 17 JRE package with the trust store
// that ca-certificates-java would build (JKS, password changeit). The fat
// jar holds our compiled classes (sts/src, compiled with javac against
// Debian's Spring jars), the book's application.properties (v1 only) and,
// stored under BOOT-INF/lib, real library jars from Debian's
// /usr/share/java. v1 adds /opt/keystore.jks and /opt/jwt.jks made with
// keytool (password springboot, as in the book); v2 is Dockerfile-2: no
// properties, no keystores, SPRING_CONFIG_LOCATION=/opt/application.properties.

// stsRefs are the ref names of the pair in out/sts-oci.
var stsRefs = []string{"v1", "v2"}

// bootLib is a jar of BOOT-INF/lib: Debian package, file under
// /usr/share/java, and the Maven artifact name the jar has in a Spring Boot
// build.
type bootLib struct{ pkg, file, artifact string }

// stsLibs are the STS's dependencies that Debian packages, as Spring Boot
// 2.1's starters (web, security, actuator) pull them in.
var stsLibs = []bootLib{
	{"libspring-core-java", "spring3-core.jar", "spring-core"},
	{"libspring-beans-java", "spring3-beans.jar", "spring-beans"},
	{"libspring-context-java", "spring3-context.jar", "spring-context"},
	{"libspring-aop-java", "spring3-aop.jar", "spring-aop"},
	{"libspring-expression-java", "spring3-expression.jar", "spring-expression"},
	{"libspring-web-java", "spring3-web.jar", "spring-web"},
	{"libspring-web-servlet-java", "spring3-web.servlet.jar", "spring-webmvc"},
	{"libtomcat10-embed-java", "tomcat10-embed-core.jar", "tomcat-embed-core"},
	{"libtomcat10-embed-java", "tomcat10-embed-el.jar", "tomcat-embed-el"},
	{"libtomcat10-embed-java", "tomcat10-embed-websocket.jar", "tomcat-embed-websocket"},
	{"libjackson2-core-java", "jackson-core.jar", "jackson-core"},
	{"libjackson2-databind-java", "jackson-databind.jar", "jackson-databind"},
	{"libjackson2-annotations-java", "jackson-annotations.jar", "jackson-annotations"},
	{"libhdrhistogram-java", "hdrhistogram.jar", "HdrHistogram"},
	{"libyaml-snake-java", "snakeyaml.jar", "snakeyaml"},
	{"libslf4j-java", "slf4j-api.jar", "slf4j-api"},
	{"liblog4j2-java", "log4j-api.jar", "log4j-api"},
	{"liblog4j2-java", "log4j-to-slf4j.jar", "log4j-to-slf4j"},
}

// stsBasePkgs and stsJDKPkgs make the two base layers.
var (
	stsBasePkgs = []string{"base-files", "ca-certificates"}
	stsJDKPkgs  = []string{"java-common", "openjdk-17-jre-headless", "ca-certificates-java"}
)

const (
	stsJavaHome = "/usr/lib/jvm/java-17-openjdk-amd64"
	stsCacerts  = "/etc/ssl/certs/java/cacerts"
)

// upstream is the upstream part of a Debian version: 1:10.1.60-1~deb12u1
// -> 10.1.60.
var debianRevision = regexp.MustCompile(`(\+(dfsg|repack|ds)[^-]*)?(-[^-]*)?$`)

func upstream(version string) string {
	if i := strings.Index(version, ":"); i >= 0 {
		version = version[i+1:]
	}
	return debianRevision.ReplaceAllString(version, "")
}

// buildSTS writes out/sts-oci with the images v1 and v2.
func buildSTS(src, out string, trees map[string]string) error {
	pkgs, err := readManifest(filepath.Join(src, "debian.txt"))
	if err != nil {
		return err
	}
	version := map[string]string{}
	for _, p := range pkgs {
		b, _ := os.ReadFile(trees[p.Name] + ".deb")
		version[p.Name] = string(b)
	}
	work := filepath.Join(out, "sts")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	// Rebuilt only when a package, a source or this generator changes.
	h := sha256.New()
	fmt.Fprint(h, generatorVersion, "\n", fixture.V1Properties)
	for _, n := range append(append(append([]string(nil), stsBasePkgs...), stsJDKPkgs...), libPkgs()...) {
		if trees[n] == "" {
			return fmt.Errorf("sts: package %s is not in debian.txt", n)
		}
		fmt.Fprintln(h, n, version[n])
	}
	sources, err := javaSources(filepath.Join(src, "sts"))
	if err != nil {
		return err
	}
	for _, s := range sources {
		b, err := os.ReadFile(s)
		if err != nil {
			return err
		}
		h.Write(b)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	dir := filepath.Join(out, "sts-oci")
	stamp := dir + ".stamp"
	if b, _ := os.ReadFile(stamp); string(b) == sum {
		return nil
	}
	os.Remove(stamp)
	fmt.Fprintln(os.Stderr, "realworld: building the STS pair (javac, keytool)")

	cacerts, err := makeTrustStore(src, work, trees["ca-certificates"])
	if err != nil {
		return err
	}
	classes, err := compileClasses(src, work, sources, trees)
	if err != nil {
		return err
	}
	ks, err := keytool(work, "keystore.jks", "spring", "CN=sts.ecomm.com, OU=STS, O=Manning MSS, L=San Jose, ST=CA, C=US")
	if err != nil {
		return err
	}
	jwt, err := keytool(work, "jwt.jks", "jwtkey", "CN=jwt.ecomm.com, OU=STS, O=Manning MSS, L=San Jose, ST=CA, C=US")
	if err != nil {
		return err
	}
	libs, err := readLibs(trees, version)
	if err != nil {
		return err
	}

	baseSpec := layerSpec{name: "sts-base", createdBy: "/bin/sh -c #(nop) ADD file:debian-bookworm-base in / "}
	for _, n := range stsBasePkgs {
		baseSpec.trees = append(baseSpec.trees, tree{root: trees[n]})
	}
	jdkSpec := layerSpec{name: "sts-jdk",
		files:     []memFile{{path: stsCacerts, data: cacerts}},
		createdBy: "/bin/sh -c apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless ca-certificates-java && rm -rf /var/lib/apt/lists/*",
	}
	for _, n := range stsJDKPkgs {
		jdkSpec.trees = append(jdkSpec.trees, tree{root: trees[n]})
	}
	base, err := baseSpec.writeLayer(filepath.Join(work, "base.tar.gz"))
	if err != nil {
		return err
	}
	jdk, err := jdkSpec.writeLayer(filepath.Join(work, "jdk.tar.gz"))
	if err != nil {
		return err
	}
	add := func(name, dst string, data []byte) (v1.Layer, string, error) {
		s := sha256.Sum256(data)
		ls := layerSpec{name: name, files: []memFile{{path: dst, data: data}}}
		l, err := ls.writeLayer(filepath.Join(work, name+".tar.gz"))
		return l, fmt.Sprintf("/bin/sh -c #(nop) ADD file:%s in %s ", hex.EncodeToString(s[:]), dst), err
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:" + stsJavaHome + "/bin", "LANG=C.UTF-8", "JAVA_HOME=" + stsJavaHome}
	baseSteps := []string{`/bin/sh -c #(nop)  CMD ["bash"]`, `/bin/sh -c #(nop)  ENV LANG=C.UTF-8`, `/bin/sh -c #(nop)  ENV JAVA_HOME=` + stsJavaHome}
	entry := []string{"java", "-jar", fixture.JarName}
	entryStep := `/bin/sh -c #(nop)  ENTRYPOINT ["java" "-jar" "` + fixture.JarName + `"]`

	jar1, by1, err := add("sts-jar-v1", "/"+fixture.JarName, fatJar(classes, libs, true))
	if err != nil {
		return err
	}
	ksl, byKS, err := add("sts-keystore", fixture.KeystorePath, ks)
	if err != nil {
		return err
	}
	jwtl, byJWT, err := add("sts-jwt", fixture.JWTPath, jwt)
	if err != nil {
		return err
	}
	v1img, err := imageSpec{
		layers:     []v1.Layer{base, jdk, jar1, ksl, jwtl},
		createdBy:  []string{baseSpec.createdBy, jdkSpec.createdBy, by1, byKS, byJWT},
		emptySteps: map[int][]string{1: baseSteps[:1], 2: baseSteps[1:], 5: {entryStep}},
		env:        env,
		entrypoint: entry,
	}.build()
	if err != nil {
		return err
	}
	jar2, by2, err := add("sts-jar-v2", "/"+fixture.JarName, fatJar(classes, libs, false))
	if err != nil {
		return err
	}
	v2img, err := imageSpec{
		layers:     []v1.Layer{base, jdk, jar2},
		createdBy:  []string{baseSpec.createdBy, jdkSpec.createdBy, by2},
		emptySteps: map[int][]string{1: baseSteps[:1], 2: baseSteps[1:], 3: {`/bin/sh -c #(nop)  ENV SPRING_CONFIG_LOCATION=/opt/application.properties`, entryStep}},
		env:        append(append([]string(nil), env...), "SPRING_CONFIG_LOCATION=/opt/application.properties"),
		entrypoint: entry,
	}.build()
	if err != nil {
		return err
	}
	if err := writeLayout(dir, stsRefs, []v1.Image{v1img, v2img}); err != nil {
		return err
	}
	return os.WriteFile(stamp, []byte(sum), 0o644)
}

func libPkgs() []string {
	var ps []string
	for _, l := range stsLibs {
		ps = append(ps, l.pkg)
	}
	return ps
}

func javaSources(dir string) ([]string, error) {
	var ss []string
	err := filepath.WalkDir(filepath.Join(dir, "src"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".java") {
			ss = append(ss, p)
		}
		return err
	})
	sort.Strings(ss)
	return ss, err
}

// run runs a JDK tool, naming it in the error.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s (the STS pair needs a JDK 17: apt-get install openjdk-17-jdk-headless)", name, err, lastLines(string(out), 3))
	}
	return nil
}

// makeTrustStore builds the trust store of ca-certificates' Mozilla
// certificates with the JDK (sts/MakeTrustStore.java).
func makeTrustStore(src, work, caTree string) ([]byte, error) {
	certs, err := filepath.Glob(filepath.Join(caTree, "usr/share/ca-certificates/mozilla/*.crt"))
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("no certificates under %s/usr/share/ca-certificates/mozilla", caTree)
	}
	out := filepath.Join(work, "cacerts")
	os.Remove(out)
	if err := run("java", append([]string{filepath.Join(src, "sts", "MakeTrustStore.java"), out, "changeit"}, certs...)...); err != nil {
		return nil, err
	}
	return os.ReadFile(out)
}

// compileClasses compiles sts/src against Debian's Spring jars and returns
// the class files by path under BOOT-INF/classes.
func compileClasses(src, work string, sources []string, trees map[string]string) (map[string][]byte, error) {
	dir := filepath.Join(work, "classes")
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	var cp []string
	for _, l := range stsLibs[:3] {
		cp = append(cp, filepath.Join(trees[l.pkg], "usr/share/java", l.file))
	}
	args := append([]string{"--release", "17", "-nowarn", "-d", dir, "-cp", strings.Join(cp, string(os.PathListSeparator))}, sources...)
	if err := run("javac", args...); err != nil {
		return nil, err
	}
	classes := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		classes[filepath.ToSlash(rel)] = b
		return err
	})
	return classes, err
}

// keytool makes a JKS keystore with one RSA key pair, store and key
// password springboot (the book's), once; it is kept in work.
func keytool(work, name, alias, dname string) ([]byte, error) {
	file := filepath.Join(work, name)
	if b, err := os.ReadFile(file); err == nil {
		return b, nil
	}
	if err := run("keytool", "-genkeypair", "-noprompt", "-alias", alias, "-keyalg", "RSA", "-keysize", "2048", "-validity", "3650",
		"-dname", dname, "-storetype", "JKS", "-keystore", file, "-storepass", fixture.Password, "-keypass", fixture.Password); err != nil {
		os.Remove(file)
		return nil, err
	}
	return os.ReadFile(file)
}

// jarFile is one jar of BOOT-INF/lib.
type jarFile struct {
	name string
	data []byte
}

func readLibs(trees map[string]string, version map[string]string) ([]jarFile, error) {
	var libs []jarFile
	for _, l := range stsLibs {
		root := trees[l.pkg]
		p, err := resolveIn(root, "/usr/share/java/"+l.file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.pkg, err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		// The version of the .deb's file name: NAME_VERSION_ARCH.deb.
		v := strings.Split(version[l.pkg], "_")
		ver := "0"
		if len(v) == 3 {
			ver = upstream(strings.ReplaceAll(v[1], "%3a", ":"))
		}
		libs = append(libs, jarFile{l.artifact + "-" + ver + ".jar", b})
	}
	return libs, nil
}

// resolveIn follows symbolic links of an image path within root (Debian's
// /usr/share/java links are relative or absolute).
func resolveIn(root, p string) (string, error) {
	for range 10 {
		full := filepath.Join(root, p)
		fi, err := os.Lstat(full)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return full, nil
		}
		t, err := os.Readlink(full)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(p), t)
		}
		p = t
	}
	return "", fmt.Errorf("%s: too many links", p)
}

// fatJar builds the Spring Boot fat jar: manifest, classes, (v1) the
// book's application.properties, and the library jars stored.
func fatJar(classes map[string][]byte, libs []jarFile, withProperties bool) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	put := func(name string, data []byte, stored bool) {
		h := &zip.FileHeader{Name: name, Modified: epoch, Method: zip.Deflate}
		if stored {
			// Spring Boot needs a stored member's sizes in its local
			// header: written raw, with the CRC computed here.
			h.Method = zip.Store
			h.CRC32 = crc32.ChecksumIEEE(data)
			h.CompressedSize64, h.UncompressedSize64 = uint64(len(data)), uint64(len(data))
			w, err := zw.CreateRaw(h)
			mustWrite(0, err)
			mustWrite(w.Write(data))
			return
		}
		w, err := zw.CreateHeader(h)
		mustWrite(0, err)
		mustWrite(w.Write(data))
	}
	put("META-INF/MANIFEST.MF", []byte("Manifest-Version: 1.0\r\nImplementation-Title: com.manning.mss.ch10.sample01\r\n"+
		"Implementation-Version: 1.0.0\r\nStart-Class: com.manning.mss.ch10.sample01.TokenService\r\n"+
		"Spring-Boot-Classes: BOOT-INF/classes/\r\nSpring-Boot-Lib: BOOT-INF/lib/\r\n"+
		"Main-Class: com.manning.mss.ch10.sample01.TokenService\r\n\r\n"), false)
	for _, n := range sortedKeys(classes) {
		put("BOOT-INF/classes/"+n, classes[n], false)
	}
	if withProperties {
		put(fixture.PropertiesPath, []byte(fixture.V1Properties), false)
	}
	for _, l := range libs {
		put("BOOT-INF/lib/"+l.name, l.data, true)
	}
	mustWrite(0, zw.Close())
	return buf.Bytes()
}

func mustWrite(_ int, err error) {
	if err != nil {
		panic("realworld: writing a jar in memory: " + err.Error())
	}
}
