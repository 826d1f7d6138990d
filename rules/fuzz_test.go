package rules

import (
	"testing"
)

func FuzzScanProperties(f *testing.F) {
	f.Add([]byte(stsV1Properties))
	f.Add([]byte("a.password=${X:y}\\\n  z\n# c\\\nb.secret=\\u00e4\\uZZZZ\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		found, _ := ScanProperties(data)
		for _, fd := range found {
			if fd.Line < 1 || fd.Secret == "" {
				t.Fatalf("finding without a line or secret: %+v", fd)
			}
		}
	})
}

func FuzzScanYAML(f *testing.F) {
	f.Add([]byte("server:\n  ssl:\n    key-store-password: springboot\n---\na: [1, 2\n"))
	f.Add([]byte("a: &x\n  password: p\nb: *x\nc: [*x, *x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		found, _ := ScanYAML(data)
		for _, fd := range found {
			if fd.Line < 1 || fd.Secret == "" {
				t.Fatalf("finding without a line or secret: %+v", fd)
			}
		}
	})
}

// FuzzScanFile runs every text detector (properties, YAML, key = value,
// XML, JSON, .netrc, .pgpass, private keys, URLs, gitleaks' windows) on
// arbitrary bytes, under each file name that selects one.
func FuzzScanFile(f *testing.F) {
	f.Add(uint8(0), []byte(stsV1Properties))
	f.Add(uint8(3), []byte("<Server><Connector keystorePass=\"x1y2z3w4\"/><a><password>p</password></a></Server>"))
	f.Add(uint8(4), []byte(`{"auths": {"r": {"auth": "dTpw"}}, "a": [{"token": "t0k3n-1234"}]}`))
	f.Add(uint8(7), []byte("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\npostgres://u:p4ss@h/db\n"))
	f.Add(uint8(0), []byte(utf16("db.p\\u0061ssword=x\\\r\n  y\r\n", false)))
	f.Add(uint8(1), []byte("a: &a {password: p}\nb:\n  <<: [*a, {token: t}]\nc: *a\n"))
	f.Add(uint8(2), []byte("JAVA_OPTS=\"-Dspring.application.json={\\\"a\\\":[1,{\\\"password\\\":\\\"p\\\"}]}\"\nSPRING_APPLICATION_JSON={\n"))
	names := []string{"a.properties", "application.yml", ".env", "server.xml", "config.json", ".netrc", ".pgpass", "notes.conf"}
	e, err := DefaultEngine()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		r := e.ScanFile("/x/"+names[int(which)%len(names)], data)
		for _, fd := range r.Findings {
			if fd.Line < 0 {
				t.Fatalf("negative line: %+v", fd)
			}
		}
	})
}
