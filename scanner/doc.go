// Package scanner reads container images and filesystems and hands every
// file it reaches, however deeply nested in layers and archives, to the
// rules package. It resolves image references (registries, docker save
// archives, OCI layouts, the Docker daemon, plain paths) through
// go-containerregistry, walks layers as tar streams without extracting them,
// opens zip, jar, war and ear archives found by content, tracks whiteouts,
// and verifies keystores against the passwords found in the same image.
// It knows nothing of output formats.
package scanner
