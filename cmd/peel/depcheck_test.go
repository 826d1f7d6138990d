package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection keeps the layers one-way: cmd → report → scanner
// → rules. A package must not import what sits above it, and rules knows
// nothing of images or the command line.
func TestDependencyDirection(t *testing.T) {
	forbidden := map[string][]string{
		"github.com/peelscan/peel/rules": {
			"github.com/google/go-containerregistry", "github.com/spf13/cobra",
			"github.com/peelscan/peel/scanner", "github.com/peelscan/peel/report", "github.com/peelscan/peel/cmd",
		},
		"github.com/peelscan/peel/scanner": {
			"github.com/spf13/cobra", "github.com/olekukonko/tablewriter",
			"github.com/peelscan/peel/report", "github.com/peelscan/peel/cmd",
		},
		"github.com/peelscan/peel/report": {
			"github.com/spf13/cobra", "github.com/peelscan/peel/cmd",
		},
		// The cache store holds opaque bytes: it knows nothing of what the
		// scanner puts in it.
		"github.com/peelscan/peel/scanner/cache": {
			"github.com/peelscan/peel/scanner", "github.com/peelscan/peel/rules", "github.com/google/go-containerregistry",
			"github.com/peelscan/peel/report", "github.com/peelscan/peel/cmd",
		},
	}
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == pkg {
				continue
			}
			for _, b := range bad {
				if dep == b || strings.HasPrefix(dep, b+"/") {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
