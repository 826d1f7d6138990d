package scanner

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"testing"

	"github.com/peelscan/peel/internal/fixture"
)

func files(n int) []fixture.File {
	out := make([]fixture.File, n)
	for i := range out {
		out[i] = fixture.File{Name: fmt.Sprintf("m/%06d.txt", i), Data: []byte(fmt.Sprintf("member %d\n", i)), Stored: i%2 == 0}
	}
	return out
}

// TestLimitZip: archive/zip is handed at most max central directory
// records, from classic and zip64 directories, with data before the zip
// counted in its offsets or not, and from a directory whose end record
// declares fewer records than it holds; the members it lists read as in
// the original. Under the limit, with the count the end record declares,
// the zip is handed over as it is.
func TestLimitZip(t *testing.T) {
	script := bytes.Repeat([]byte("#!/bin/sh\necho launch\n"), 400)
	lying := fixture.ManyMemberZip(70_000)
	// The zip64 end records replaced by a classic one whose 16-bit count
	// holds 70 000 less 65 536: archive/zip takes it.
	cd := binary.LittleEndian.Uint64(lying[len(lying)-22-20-56+48:])
	cdSize := binary.LittleEndian.Uint64(lying[len(lying)-22-20-56+40:])
	lying = lying[:cd+cdSize]
	lying = binary.LittleEndian.AppendUint32(lying, 0x06054b50)
	lying = binary.LittleEndian.AppendUint64(lying, 0)
	lying = binary.LittleEndian.AppendUint16(lying[:len(lying)-4], 70_000-65_536)
	lying = binary.LittleEndian.AppendUint16(lying, 70_000-65_536)
	lying = binary.LittleEndian.AppendUint32(lying, uint32(cdSize))
	lying = binary.LittleEndian.AppendUint32(lying, uint32(cd))
	lying = binary.LittleEndian.AppendUint16(lying, 0)
	if r, err := zip.NewReader(bytes.NewReader(lying), int64(len(lying))); err != nil || len(r.File) != 70_000 {
		t.Fatalf("the lying zip does not read as 70 000 members in archive/zip: %v", err)
	}
	for _, c := range []struct {
		name      string
		zip       []byte
		max, want int
		same, cut bool
	}{
		{"classic, under", fixture.Zip(nil, files(10)...), 100, 10, true, false},
		{"classic, over", fixture.Zip(nil, files(10)...), 3, 3, false, true},
		{"classic, at", fixture.Zip(nil, files(10)...), 10, 10, true, false},
		{"script counted in offsets", fixture.Zip(script, files(10)...), 4, 4, false, true},
		{"script not counted", append(append([]byte{}, script...), fixture.Zip(nil, files(10)...)...), 4, 4, false, true},
		{"zip64, under", fixture.Zip(nil, files(70_000)...), 100_000, 70_000, true, false},
		{"zip64, over", fixture.Zip(nil, files(70_000)...), 1000, 1000, false, true},
		{"200 000 records declared and read", fixture.ManyMemberZip(200_000), 100_000, 100_000, false, true},
		{"declared count is not the count", lying, 100_000, 70_000, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			orig := bytes.NewReader(c.zip)
			view, size, cut := limitZip(orig, int64(len(c.zip)), c.max)
			if (view == io.ReaderAt(orig)) != c.same || cut != c.cut {
				t.Errorf("same reader %v, cut %v", view == io.ReaderAt(orig), cut)
			}
			zr, err := zip.NewReader(view, size)
			if err != nil {
				t.Fatal(err)
			}
			if len(zr.File) != c.want {
				t.Fatalf("%d members, want %d", len(zr.File), c.want)
			}
			full, _ := zip.NewReader(orig, int64(len(c.zip)))
			for _, i := range []int{0, c.want / 2, c.want - 1} {
				a, b := zr.File[i], full.File[i]
				if a.Name != b.Name {
					t.Fatalf("member %d is %q, want %q", i, a.Name, b.Name)
				}
				ra, err := a.Open()
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(ra)
				rb, _ := b.Open()
				want, _ := io.ReadAll(rb)
				if !bytes.Equal(got, want) {
					t.Errorf("member %d reads %q, want %q", i, got, want)
				}
			}
		})
	}
	// Not a zip, or a damaged one: handed over as is, to fail in
	// archive/zip as it would.
	for _, bad := range [][]byte{[]byte("PK\x03\x04 not a zip"), fixture.Zip(nil, files(3)...)[:100]} {
		if v, _, cut := limitZip(bytes.NewReader(bad), int64(len(bad)), 10); cut || v == nil {
			t.Errorf("damaged zip: cut %v", cut)
		}
	}
}
