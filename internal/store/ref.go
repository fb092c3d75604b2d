package store

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// DefaultRegistry is where a reference without a registry host points,
// as with docker: "alpine" means "docker.io/library/alpine:latest".
const DefaultRegistry = "docker.io"

// Normalize turns a Docker-style image reference into its full form, the
// name the store records in org.opencontainers.image.ref.name:
//
//	alpine                        → docker.io/library/alpine:latest
//	alpine:3.20                   → docker.io/library/alpine:3.20
//	library/alpine                → docker.io/library/alpine:latest
//	ghcr.io/o/r:t                 → ghcr.io/o/r:t
//	127.0.0.1:5000/demo           → 127.0.0.1:5000/demo:latest
//	alpine@sha256:…               → docker.io/library/alpine@sha256:…
//
// A registry host is recognised, like docker does, by a dot, a colon (a
// port) or the name "localhost" in the first path component.
func Normalize(ref string) (string, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return "", err
	}
	return FullName(r), nil
}

// ParseReference parses ref (see Normalize) for talking to its registry.
// opts are go-containerregistry's, e.g. name.Insecure for a registry that
// speaks plain HTTP.
func ParseReference(ref string, opts ...name.Option) (name.Reference, error) {
	if ref == "" {
		return nil, fmt.Errorf("parse image reference: empty name (try alpine:3.20 or 127.0.0.1:5000/demo:1)")
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("parse image reference %q: %w (a reference is [HOST[:PORT]/]NAME[:TAG|@sha256:DIGEST], lowercase)", ref, err)
	}
	return r, nil
}

// FullName prints r with docker.io (not go-containerregistry's
// index.docker.io) as Docker Hub's name.
func FullName(r name.Reference) string {
	repo := r.Context().RepositoryStr()
	host := r.Context().RegistryStr()
	if host == name.DefaultRegistry || host == "index.docker.io" {
		host = DefaultRegistry
	}
	sep := ":"
	if _, ok := r.(name.Digest); ok {
		sep = "@"
	}
	return host + "/" + repo + sep + r.Identifier()
}

// ShortName is the name without docker.io/library/ and docker.io/, as
// `docker images` shows it.
func ShortName(full string) string {
	if s, ok := strings.CutPrefix(full, DefaultRegistry+"/library/"); ok {
		return s
	}
	if s, ok := strings.CutPrefix(full, DefaultRegistry+"/"); ok {
		return s
	}
	return full
}
