// Command gen writes peel's bundled fixtures (see internal/fixture.WriteAll):
// the book's v1 and v2 STS images as docker-archive tars and OCI layouts,
// and the host config directories of sections 10.2.1 and 10.2.2. The output
// is the same byte for byte on every run.
//
// Usage: go run ./testdata/gen [-out testdata/build]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/peelscan/peel/internal/fixture"
)

func main() {
	out := flag.String("out", filepath.Join("testdata", "build"), "directory to write the fixtures to (replaced)")
	flag.Parse()
	if err := fixture.WriteAll(*out); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("fixtures written to %s\n", *out)
}
