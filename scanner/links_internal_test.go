package scanner

import (
	"bytes"
	"fmt"
	"math/rand"
	"testing"
)

// TestTextCache: what the ring returns is always the last file put under
// that name, byte for byte, and every file put within the last
// linkCacheBytes-linkCacheFile bytes is there.
func TestTextCache(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	var c textCache
	defer c.release()
	type put struct {
		name string
		data []byte
	}
	var puts []put
	for i := 0; i < 5000; i++ {
		name := fmt.Sprintf("/f%d", r.Intn(300))
		n := r.Intn(linkCacheFile + 1)
		if r.Intn(4) == 0 {
			n = r.Intn(64)
		}
		data := bytes.Repeat([]byte{byte(i)}, n)
		c.put(name, data)
		puts = append(puts, put{name, data})
		// Check a few names against the history.
		for k := 0; k < 5; k++ {
			q := fmt.Sprintf("/f%d", r.Intn(300))
			got, ok := c.get(q)
			recent, last := 0, -1
			for j := len(puts) - 1; j >= 0; j-- {
				if puts[j].name == q {
					last = j
					break
				}
				recent += len(puts[j].data)
			}
			if ok && (last < 0 || !bytes.Equal(got, puts[last].data)) {
				t.Fatalf("put %d: get(%s) returned bytes that are not its last version", i, q)
			}
			if !ok && last >= 0 && recent+len(puts[last].data) <= linkCacheBytes-linkCacheFile {
				t.Fatalf("put %d: get(%s) lost a file put %d bytes ago", i, q, recent)
			}
		}
	}
}
