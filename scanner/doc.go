// Package scanner reads container images and filesystems and hands every
// file it reaches, however deeply nested in layers and archives, to the
// rules package. It resolves image references (registries, docker save
// archives, OCI layouts, the Docker daemon, plain paths) through
// go-containerregistry and readers of its own, reads each layer once as a
// tar stream without extracting it, checking it against the config's
// diff_id on the way, opens zip, jar, war, ear, tar, gzip and zstd
// archives found by content, tracks whiteouts, reads the targets of links
// named like config files under the links' names, keeps the files the
// rules' verifiers ask for (keystores) and, once every layer is read, has them
// verified against what the whole image holds. Which findings are
// passwords, what verification proves, what is dismissed where: all of
// that is the rules' to say. Layer results are cached through a
// LayerCache under the identity the read verified. It knows nothing of
// output formats.
//
// Files: image.go (the three stages of an image scan), layer.go (one
// verified read per layer), layercache.go (the cache key and wrapper),
// source.go, registry.go, transport.go, ociarchive.go, dockerarchive.go and
// stream.go (sources), walk.go and archive.go with zip.go, tar.go and
// compressed.go (files and archive formats), links.go (links named like
// config files), scanner.go (path scans, the merge and the join of
// verification records), signatures.go (where an image's signatures are,
// what was found of them, and the finding an image without a verified one
// makes when signatures are required; the lookup itself is
// scanner/signature's).
package scanner
