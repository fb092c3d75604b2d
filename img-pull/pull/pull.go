// Package pull downloads an image from an OCI or Docker v2 registry into
// ctrkit's image store (an OCI image layout, see ctrkit/internal/store).
//
// A pull is a short conversation over HTTPS (GET requests only):
//
//  1. GET /v2/ — is this a registry, and how do I authenticate? A 401 names
//     a token service; the client gets a token for "repository:NAME:pull"
//     (anonymous, or with credentials) and sends it with every request.
//  2. GET /v2/NAME/manifests/TAG — the manifest. For a multi-platform image
//     it is a manifest list (an OCI index): one manifest per platform, from
//     which we pick the host's (or --platform) and GET that one by digest.
//  3. The image manifest names the config (a JSON file: command, env,
//     working dir, the history of the layers) and the layers (tar files,
//     usually gzip-compressed), each by digest and size.
//  4. GET /v2/NAME/blobs/DIGEST for the config and each layer not already
//     stored, several at a time. Every blob is hashed as it arrives and
//     refused unless its sha256 and size match the manifest: the digest is
//     the blob's name and its proof of integrity at once.
//  5. The manifest is stored last, then the tag in index.json.
//
// Content addressing is what makes the rest easy: a blob whose digest is
// already in the store is not downloaded again, whichever image it came
// with, and a tag is just a name for a manifest digest.
package pull

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"ctrkit/internal/explain"
	"ctrkit/internal/store"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Options tune a pull.
type Options struct {
	// Platform is os/arch[/variant] (linux/arm64, linux/arm/v7); empty
	// means the host's.
	Platform string
	// Auth is used when set; otherwise credentials come from
	// ~/.docker/config.json (docker login) or the pull is anonymous.
	Auth authn.Authenticator
	// Insecure allows plain HTTP and unverified TLS certificates. Registries
	// on localhost and 127.0.0.1 get plain HTTP without it.
	Insecure bool
	// Jobs is how many blobs download at once (3, like docker, when 0).
	Jobs int
	// Progress reports each blob's download; may be nil.
	Progress Progress
	// Transport is the HTTP transport to use (tests); nil means the default.
	Transport http.RoundTripper
	// Log receives the registry conversation (explain mode).
	Log *explain.Log
	// Tries is how many times a request is made before giving up (5, like
	// docker, when 0); Backoff is the first wait between two (250ms).
	Tries   int
	Backoff time.Duration
	// StallTimeout ends a download that received nothing for that long,
	// to retry it (30s when 0).
	StallTimeout time.Duration
}

// Progress is told about each blob of the image.
type Progress interface {
	// Blob announces a blob; stored is true when it is already in the store
	// and will not be downloaded. Reader wraps the download of the blob.
	Blob(d v1.Descriptor, kind string, stored bool) Bar
}

// Bar follows one download.
type Bar interface {
	Reader(r io.Reader) io.Reader
	Done(err error)
}

// Result says what was pulled.
type Result struct {
	Name       string        // the full name the image was stored under
	Manifest   v1.Descriptor // the image manifest that was stored and tagged
	List       *v1.Descriptor
	Config     *v1.ConfigFile
	Registry   v1.Hash // the manifest's digest in the registry (differs when converted)
	Artifact   bool    // an OCI artifact, not an image: Config is nil
	Downloaded int     // blobs downloaded
	Stored     int     // blobs already in the store
	Bytes      int64   // bytes downloaded
}

// Pull downloads ref into st and tags it with its full name.
func Pull(ctx context.Context, st *store.Store, ref string, opt Options) (*Result, error) {
	var nameOpts []name.Option
	if opt.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	r, err := store.ParseReference(ref, nameOpts...)
	if err != nil {
		return nil, err
	}
	want, err := parsePlatform(opt.Platform)
	if err != nil {
		return nil, err
	}
	log := opt.Log
	full := store.FullName(r)
	log.Note("pulling %s (%s) for %s", full, r.Context().Registry.Scheme()+"://"+r.Context().RegistryStr(), want)

	auth := opt.Auth
	if auth == nil {
		if auth, err = authn.Resolve(ctx, authn.DefaultKeychain, r.Context()); err != nil {
			return nil, fmt.Errorf("read credentials for %s: %w", r.Context().RegistryStr(), err)
		}
	}
	var reg *registry
	err = withRetries(ctx, opt, func(n int, err error, wait time.Duration) {
		log.Note("registry %s: attempt %d failed: %v; retrying in %s", r.Context().RegistryStr(), n, err, wait.Round(time.Millisecond))
	}, func() (err error) {
		// A registry that answers 5xx is retried; one that cannot be
		// reached at all is a wrong name more often than a hiccup.
		reg, err = dial(ctx, r, auth, opt.Insecure, opt.Transport, log)
		var te *transport.Error
		if err != nil && !errors.As(err, &te) {
			return permanent{err}
		}
		return err
	})
	if p, ok := err.(permanent); ok {
		err = p.error
	}
	if err != nil {
		return nil, err
	}

	release, err := st.Writing()
	if err != nil {
		return nil, err
	}
	defer release()

	res := &Result{Name: full}
	var expect *v1.Descriptor
	if d, ok := r.(name.Digest); ok {
		h, err := v1.NewHash(d.DigestStr())
		if err != nil {
			return nil, fmt.Errorf("parse digest of %q: %w", ref, err)
		}
		expect = &v1.Descriptor{Digest: h, Size: -1}
	}
	desc, body, err := fetchManifest(ctx, reg, r.Identifier(), expect, opt)
	if err != nil {
		return nil, err
	}
	// A manifest list may point to another list (a nested index): follow
	// it, a few levels at most.
	for depth := 0; desc.MediaType.IsIndex(); depth++ {
		if depth == 4 {
			return nil, fmt.Errorf("%s: manifest lists nested more than 4 deep, refusing", full)
		}
		if res.List == nil {
			list := desc
			res.List = &list
		}
		child, err := choosePlatform(body, want, log)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", full, err)
		}
		if desc, body, err = fetchManifest(ctx, reg, child.Digest.String(), &child, opt); err != nil {
			return nil, err
		}
		desc.Platform = child.Platform
	}
	if !desc.MediaType.IsImage() {
		return nil, fmt.Errorf("%s: unsupported manifest media type %q (only OCI and Docker schema 2 images; re-push the image with a current docker or skopeo)", full, desc.MediaType)
	}
	m, err := v1.ParseManifest(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: parse manifest %s: %w", full, desc.Digest, err)
	}
	res.Artifact = store.IsArtifact(m)
	if res.Artifact {
		log.Note("%s is an OCI artifact of type %q, not an image: stored, but it cannot be run", full, store.ArtifactType(m))
	}
	for _, l := range m.Layers {
		if !res.Artifact && !layerTypes[l.MediaType] {
			return nil, fmt.Errorf("%s: layer %s has unsupported media type %q (ctrkit unpacks tar, tar+gzip and tar+zstd layers)", full, l.Digest, l.MediaType)
		}
	}
	log.Note("manifest %s: config %s, %d layers, %d bytes in all", desc.Digest, m.Config.Digest, len(m.Layers), total(m.Layers))

	blobs := append([]v1.Descriptor{m.Config}, m.Layers...)
	if err := fetchBlobs(ctx, st, reg, blobs, opt, res); err != nil {
		return nil, err
	}
	if !res.Artifact {
		cfgData, err := st.ReadBlob(m.Config.Digest)
		if err != nil {
			return nil, err
		}
		if res.Config, err = v1.ParseConfigFile(bytes.NewReader(cfgData)); err != nil {
			return nil, fmt.Errorf("%s: parse image config %s: %w", full, m.Config.Digest, err)
		}
		log.Note("config: %s", describe(res.Config))
		if opt.Platform != "" && res.List == nil && (res.Config.OS != want.OS || res.Config.Architecture != want.Architecture) {
			return nil, fmt.Errorf("%s is for %s/%s, not %s (it has no manifest list with other platforms)", full, res.Config.OS, res.Config.Architecture, want)
		}
		if len(res.Config.RootFS.DiffIDs) != len(m.Layers) {
			return nil, fmt.Errorf("%s: the config lists %d layers (rootfs.diff_ids), the manifest %d: a broken image", full, len(res.Config.RootFS.DiffIDs), len(m.Layers))
		}
	}

	// A Docker schema 2 manifest is stored with OCI media types (see
	// oci.go), under its new digest; the registry's digests are recorded.
	res.Registry = desc.Digest
	ann := map[string]string{}
	if desc.MediaType == types.DockerManifestSchema2 {
		if body, err = toOCI(m); err != nil {
			return nil, fmt.Errorf("%s: %w", full, err)
		}
		sum := sha256.Sum256(body)
		conv := v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: int64(len(body)),
			Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}, Platform: desc.Platform}
		log.Note("Docker schema 2 manifest %s stored with OCI media types as %s (as skopeo copy does)", desc.Digest, conv.Digest)
		ann[store.RegistryDigestAnnotation] = desc.Digest.String()
		desc = conv
	}
	if res.List != nil {
		ann[store.RegistryListAnnotation] = res.List.Digest.String()
	}
	if m.ArtifactType != "" {
		desc.ArtifactType = m.ArtifactType
	}

	// Only now, with every blob in place, the manifest and then the tag.
	if err := st.PutBlob(desc.Digest, desc.Size, bytes.NewReader(body)); err != nil {
		return nil, err
	}
	log.Step(fmt.Sprintf("write blobs/sha256/%s (the manifest)", desc.Digest.Hex), "")
	tagged := desc
	if len(ann) > 0 {
		tagged.Annotations = ann
	}
	if err := st.Tag(full, tagged); err != nil {
		return nil, err
	}
	log.Step(fmt.Sprintf("rename index.json: %s=%s → %s", store.RefNameAnnotation, full, desc.Digest),
		"skopeo inspect "+explain.Quote("oci:"+st.Dir+":"+full))
	res.Manifest = desc
	return res, nil
}

// describe is a one-line summary of a config for explain mode.
func describe(cfg *v1.ConfigFile) string {
	return fmt.Sprintf("entrypoint %q cmd %q workdir %q user %q", cfg.Config.Entrypoint, cfg.Config.Cmd, cfg.Config.WorkingDir, cfg.Config.User)
}
