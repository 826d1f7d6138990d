// Command gen writes peel's bundled fixtures (see internal/fixture.WriteAll):
// the book's v1 and v2 STS images as docker-archive tars and OCI layouts,
// and the host config directories of sections 10.2.1 and 10.2.2. The output
// is the same byte for byte on every run.
//
// With -hostile DIR it also writes the hostile corpus, each item's expected
// outcome listed in DIR/EXPECTED.json.
//
// Usage: go run ./testdata/gen [-out testdata/build] [-hostile DIR]
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
	hostile := flag.String("hostile", "", "also write the hostile corpus (internal/fixture.WriteHostile) to this directory")
	flag.Parse()
	if *hostile != "" {
		cases, err := fixture.WriteHostile(*hostile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "gen: %v\n", err)
			os.Exit(1)
		}
		fmt.Printf("hostile corpus (%d items, outcomes in EXPECTED.json) written to %s\n", len(cases), *hostile)
		if *out == "" {
			return
		}
	}
	if err := fixture.WriteAll(*out); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("fixtures written to %s\n", *out)
}
