package store

import (
	"bytes"
	"crypto/sha256"
	"ctrkit/internal/fsutil"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BlobPath is where the blob with digest d lives: Dir/blobs/sha256/<hex>.
func (s *Store) BlobPath(d v1.Hash) string {
	return filepath.Join(s.Dir, "blobs", d.Algorithm, d.Hex)
}

// HasBlob reports whether the blob d of size bytes is stored. Blobs are
// verified before they get their name, so a present blob is a good one.
func (s *Store) HasBlob(d v1.Hash, size int64) bool {
	fi, err := os.Stat(s.BlobPath(d))
	return err == nil && fi.Mode().IsRegular() && fi.Size() == size
}

// ReadBlob returns the content of blob d.
func (s *Store) ReadBlob(d v1.Hash) ([]byte, error) {
	data, err := os.ReadFile(s.BlobPath(d))
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", d, err)
	}
	return data, nil
}

// A MismatchError says that a blob's bytes are not what its descriptor
// promised: corrupted in transit, or a registry serving the wrong content.
type MismatchError struct {
	Want, Got         v1.Hash
	WantSize, GotSize int64
}

func (e *MismatchError) Error() string {
	if e.GotSize != e.WantSize {
		return fmt.Sprintf("blob %s: size mismatch: got %d bytes, the manifest says %d", e.Want, e.GotSize, e.WantSize)
	}
	return fmt.Sprintf("blob %s: digest mismatch: the bytes received hash to %s", e.Want, e.Got)
}

// PutBlob stores the blob d of size bytes read from r, verifying both: the
// content is hashed while it is written to a temporary file, which is
// renamed to blobs/sha256/<hex> only when digest and size match. A blob
// that is already stored is not rewritten (r is not read). The returned
// error is a *MismatchError when the content is wrong; nothing is stored
// then.
func (s *Store) PutBlob(d v1.Hash, size int64, r io.Reader) error {
	if d.Algorithm != "sha256" {
		return fmt.Errorf("blob %s: unsupported digest algorithm %q (only sha256)", d, d.Algorithm)
	}
	if s.HasBlob(d, size) {
		return nil
	}
	f, err := os.CreateTemp(s.tmpDir(), d.Hex+".*")
	if err != nil {
		return fmt.Errorf("store blob %s: %w", d, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	h := sha256.New()
	// Read one byte more than promised, to notice a blob that is too long.
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, size+1))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store blob %s: %w", d, err)
	}
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	if n != size || got != d {
		return &MismatchError{Want: d, Got: got, WantSize: size, GotSize: n}
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("store blob %s: %w", d, err)
	}
	if err := os.Rename(tmp, s.BlobPath(d)); err != nil {
		return fmt.Errorf("store blob %s: %w", d, err)
	}
	return fsutil.SyncDir(filepath.Dir(s.BlobPath(d)))
}

// PutBytes stores data as a blob and returns its descriptor.
func (s *Store) PutBytes(mediaType types.MediaType, data []byte) (v1.Descriptor, error) {
	sum := sha256.Sum256(data)
	d := v1.Descriptor{MediaType: mediaType, Size: int64(len(data)),
		Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}}
	return d, s.PutBlob(d.Digest, d.Size, bytes.NewReader(data))
}
