package rules

import (
	"bytes"
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"
)

// ScanYAML finds secrets in a YAML file, every document of it (Spring
// profiles are separate documents). Keys are joined with dots as Spring
// flattens them (spring.datasource.password, list items as key[0]); lines
// are the value's own line. Documents are split at "---" lines and parsed
// one by one, so a malformed document does not hide the others.
func ScanYAML(data []byte) ([]Finding, error) {
	var (
		out      []Finding
		refs     []keyRef
		firstErr error
	)
	forEachYAMLDocument(data, func(doc []byte, firstLine int) {
		var n yaml.Node
		if err := yaml.Unmarshal(doc, &n); err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("malformed YAML document at line %d", firstLine)
			}
			return
		}
		before := len(out)
		walkYAML(&n, "", 0, &out, &refs)
		for i := before; i < len(out); i++ {
			out[i].Line += firstLine - 1
		}
	})
	linkRefs(out, refs)
	return out, firstErr
}

// forEachYAMLDocument calls fn with each document of a YAML stream and the
// line it starts on. A document starts after a line that begins "---".
func forEachYAMLDocument(data []byte, fn func(doc []byte, firstLine int)) {
	line, start, startLine := 1, 0, 1
	for i := 0; i <= len(data); {
		j := bytes.IndexByte(data[i:], '\n')
		next := len(data) + 1
		if j >= 0 {
			next = i + j + 1
		}
		l := data[i:min(next, len(data))]
		if bytes.HasPrefix(l, []byte("---")) && (len(l) == 3 || l[3] == ' ' || l[3] == '\n' || l[3] == '\r') {
			if i > start {
				fn(data[start:i], startLine)
			}
			start, startLine = min(next, len(data)), line+1
		}
		line++
		i = next
	}
	if start < len(data) {
		fn(data[start:], startLine)
	}
}

// maxYAMLDepth bounds recursion on hostile nesting.
const maxYAMLDepth = 64

func walkYAML(n *yaml.Node, prefix string, depth int, out *[]Finding, refs *[]keyRef) {
	if n == nil || depth > maxYAMLDepth {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walkYAML(c, prefix, depth+1, out, refs)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := k.Value
			if prefix != "" {
				key = prefix + "." + key
			}
			walkYAML(v, key, depth+1, out, refs)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			walkYAML(c, prefix+"["+strconv.Itoa(i)+"]", depth+1, out, refs)
		}
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return
		}
		if f, ok := configFinding(prefix, n.Value, n.Line); ok {
			*out = append(*out, f)
		} else if path, ok := keystoreRef(n.Value); ok {
			*refs = append(*refs, keyRef{prefix, path})
		}
	}
}
