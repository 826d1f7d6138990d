// Package scanner reads container images and filesystems and hands every
// file it reaches, however deeply nested in layers and archives, to the
// rules package. It resolves image references (registries, docker save
// archives, OCI layouts, the Docker daemon, plain paths) through
// go-containerregistry, walks layers as tar streams without extracting them,
// opens zip, jar, war and ear archives found by content, tracks whiteouts,
// keeps the files the rules' verifiers ask for (keystores) and, once every
// layer is read, has them verified against what the whole image holds.
// Which findings are passwords, what verification proves, what is
// dismissed where: all of that is the rules' to say. It knows nothing of
// output formats.
package scanner
