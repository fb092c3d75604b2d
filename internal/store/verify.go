package store

// # Verified reads
//
// A blob's name is its digest, and every descriptor that points to it
// carries its size too: index.json → manifest → config → layers is a
// chain of promises (a Merkle tree). Writes check them (PutBlob, Ingest);
// reads check them again, because the store is a plain directory anyone
// with root can edit: a config whose Cmd was changed to /bin/ls, a
// manifest edited by hand, a wrong size in index.json would otherwise be
// believed. So Resolve hashes the manifest and the config it reads (a few
// KiB each) and stats every layer; the layers' own bytes are verified as
// they stream while fs-layer unpacks them (their uncompressed sha256 must
// be the config's diff_id, and the config is verified), and Verify hashes
// everything, like `ctr content verify`. umoci and skopeo check the same
// chain when they read a layout.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations of index.json entries that record the registry's names for
// an image ctrkit stored in another form (a Docker schema 2 manifest
// converted to OCI media types, as skopeo does, has a new digest):
//
//	RegistryDigestAnnotation  the manifest's digest in the registry
//	RegistryListAnnotation    the manifest list's digest it was chosen from
//
// Find accepts these digests as well as the stored one.
const (
	RegistryDigestAnnotation = "ctrkit.image.registry.digest"
	RegistryListAnnotation   = "ctrkit.image.registry.list"
)

// ErrArtifact is returned when a name is an OCI artifact, not an image.
var ErrArtifact = errors.New("an OCI artifact, not a container image")

// A CorruptError says that the store's content is not what its
// descriptors promise: someone or something changed it after it was
// written.
type CorruptError struct {
	What string // "manifest of NAME", "config of NAME", "layer 2 of NAME"
	Desc v1.Descriptor
	Got  v1.Hash // zero when the size was wrong or the blob is missing
	Size int64
	Err  error // reading failed
}

func (e *CorruptError) Error() string {
	var why string
	switch {
	case e.Err != nil:
		why = e.Err.Error()
	case e.Size != e.Desc.Size:
		why = fmt.Sprintf("size mismatch: the blob has %d bytes, its descriptor says %d", e.Size, e.Desc.Size)
	default:
		why = fmt.Sprintf("digest mismatch: the blob's bytes hash to %s", e.Got)
	}
	return fmt.Sprintf("%s (%s): %s: the image store was changed after it was written; refusing to use it (pull the image again; `img-pull verify` checks the whole store)", e.What, e.Desc.Digest, why)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// ReadVerified reads the blob d points to, checking its size and digest.
// what names it in the error (a *CorruptError).
func (s *Store) ReadVerified(d v1.Descriptor, what string) ([]byte, error) {
	f, err := os.Open(s.BlobPath(d.Digest))
	if err != nil {
		return nil, &CorruptError{What: what, Desc: d, Err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, d.Size+1))
	if err != nil {
		return nil, &CorruptError{What: what, Desc: d, Err: err}
	}
	if int64(len(data)) != d.Size {
		return nil, &CorruptError{What: what, Desc: d, Size: int64(len(data))}
	}
	sum := sha256.Sum256(data)
	if got := (v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}); got != d.Digest {
		return nil, &CorruptError{What: what, Desc: d, Got: got, Size: d.Size}
	}
	return data, nil
}

// checkBlob stats (or, with hash, reads and hashes) the blob d points to.
func (s *Store) checkBlob(d v1.Descriptor, what string, hash bool) error {
	if !hash {
		fi, err := os.Stat(s.BlobPath(d.Digest))
		if err != nil {
			return &CorruptError{What: what, Desc: d, Err: err}
		}
		if fi.Size() != d.Size {
			return &CorruptError{What: what, Desc: d, Size: fi.Size()}
		}
		return nil
	}
	f, err := os.Open(s.BlobPath(d.Digest))
	if err != nil {
		return &CorruptError{What: what, Desc: d, Err: err}
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return &CorruptError{What: what, Desc: d, Err: err}
	}
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	if n != d.Size || got != d.Digest {
		return &CorruptError{What: what, Desc: d, Got: got, Size: n}
	}
	return nil
}

// checkLayout refuses a layout whose oci-layout file is missing or wrong.
func (s *Store) checkLayout() error {
	path := filepath.Join(s.Dir, "oci-layout")
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("image store %s: %w: a layout without it is not an OCI image layout and was changed by hand; restore it with `echo '{\"imageLayoutVersion\":\"1.0.0\"}' > %s` if the rest is intact (`img-pull verify` checks), or move the store away", s.Dir, err, path)
	}
	var l struct {
		Version string `json:"imageLayoutVersion"`
	}
	if err := json.Unmarshal(data, &l); err != nil || l.Version != "1.0.0" {
		return fmt.Errorf("image store %s: oci-layout says %q, want imageLayoutVersion 1.0.0: not a layout ctrkit can read", s.Dir, strings.TrimSpace(string(data)))
	}
	return nil
}

// hasDigest says whether the entry's stored digest, or one the registry
// gave it, starts with hexPart.
func (e Entry) hasDigest(hexPart string) bool {
	if strings.HasPrefix(e.Descriptor.Digest.Hex, hexPart) {
		return true
	}
	for _, k := range []string{RegistryDigestAnnotation, RegistryListAnnotation} {
		if v := e.Descriptor.Annotations[k]; v != "" && strings.HasPrefix(strings.TrimPrefix(v, "sha256:"), hexPart) {
			return true
		}
	}
	return false
}

// repoOf is NAME without its :TAG or @DIGEST.
func repoOf(full string) string {
	if i := strings.Index(full, "@"); i >= 0 {
		return full[:i]
	}
	if i := strings.LastIndex(full, ":"); i > strings.LastIndex(full, "/") {
		return full[:i]
	}
	return full
}

// Image is an image read from the store.
type Image struct {
	Entry
	Manifest    *v1.Manifest
	RawManifest []byte
	Config      *v1.ConfigFile // nil for an artifact (see ResolveAny)
	RawConfig   []byte
}

// IsArtifact says whether a manifest is an OCI artifact (its config is not
// an image config: Helm charts, signatures, SBOMs), which has no root
// file system to run.
func IsArtifact(m *v1.Manifest) bool {
	return m.Config.MediaType != types.OCIConfigJSON && m.Config.MediaType != types.DockerConfigJSON
}

// ArtifactType names an artifact's kind: its artifactType, or its config's
// media type.
func ArtifactType(m *v1.Manifest) string {
	if m.ArtifactType != "" {
		return m.ArtifactType
	}
	return string(m.Config.MediaType)
}

// Resolve finds ref (see Find) and reads its manifest and config, each
// verified against the descriptor pointing to it; every layer must be
// there with its size. An artifact is refused (ErrArtifact).
func (s *Store) Resolve(ref string) (*Image, error) {
	img, err := s.ResolveAny(ref)
	if err != nil {
		return nil, err
	}
	if img.Config == nil {
		return nil, fmt.Errorf("%s is %w (type %q): it has no root file system to run or build on (img-pull inspect shows it)", img.Name, ErrArtifact, ArtifactType(img.Manifest))
	}
	return img, nil
}

// ResolveAny is Resolve that also returns artifacts (with a nil Config).
func (s *Store) ResolveAny(ref string) (*Image, error) {
	e, err := s.Find(ref)
	if err != nil {
		return nil, err
	}
	img := &Image{Entry: e}
	if img.RawManifest, err = s.ReadVerified(e.Descriptor, "manifest of "+e.Name); err != nil {
		return nil, err
	}
	if img.Manifest, err = v1.ParseManifest(bytes.NewReader(img.RawManifest)); err != nil {
		return nil, fmt.Errorf("parse manifest %s: %w", e.Descriptor.Digest, err)
	}
	if img.RawConfig, err = s.ReadVerified(img.Manifest.Config, "config of "+e.Name); err != nil {
		return nil, err
	}
	for i, l := range img.Manifest.Layers {
		if err := s.checkBlob(l, fmt.Sprintf("layer %d of %s", i+1, e.Name), false); err != nil {
			return nil, err
		}
	}
	if IsArtifact(img.Manifest) {
		return img, nil
	}
	if img.Config, err = v1.ParseConfigFile(bytes.NewReader(img.RawConfig)); err != nil {
		return nil, fmt.Errorf("parse config %s: %w", img.Manifest.Config.Digest, err)
	}
	return img, nil
}

// A Problem is something Verify found wrong.
type Problem struct {
	Name string // the image, or "" for the layout itself
	Err  error
}

// Verify checks the layout (oci-layout, index.json) and, for the image ref
// or every image when ref is "", the whole chain: manifest and config
// (size, digest), every layer (size, sha256 of all its bytes). It returns
// what is wrong, and the names it checked.
func (s *Store) Verify(ref string) (checked []string, problems []Problem, err error) {
	if err := s.checkLayout(); err != nil {
		problems = append(problems, Problem{Err: err})
	}
	es, err := s.List()
	if err != nil {
		return nil, append(problems, Problem{Err: err}), nil
	}
	if ref != "" {
		e, err := s.Find(ref)
		if err != nil {
			return nil, nil, err
		}
		es = []Entry{e}
	}
	for _, e := range es {
		checked = append(checked, e.Name)
		raw, err := s.ReadVerified(e.Descriptor, "manifest of "+e.Name)
		if err != nil {
			problems = append(problems, Problem{e.Name, err})
			continue
		}
		if !e.Descriptor.MediaType.IsImage() {
			continue // only image manifests are stored by ctrkit
		}
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			problems = append(problems, Problem{e.Name, fmt.Errorf("parse manifest %s: %w", e.Descriptor.Digest, err)})
			continue
		}
		if err := s.checkBlob(m.Config, "config of "+e.Name, true); err != nil {
			problems = append(problems, Problem{e.Name, err})
		}
		for i, l := range m.Layers {
			if err := s.checkBlob(l, fmt.Sprintf("layer %d of %s", i+1, e.Name), true); err != nil {
				problems = append(problems, Problem{e.Name, err})
			}
		}
	}
	return checked, problems, nil
}
