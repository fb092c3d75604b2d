// Package layer unpacks OCI image layers into directories that overlayfs can
// stack, keeps them in a content-addressed store shared by every image, and
// turns a container's upper directory back into a layer (diff).
//
// A layer is a tar archive (gzip- or zstd-compressed, or not at all) of the
// files it adds or changes, plus two kinds of marker for what it removes
// (OCI image-spec layer.md):
//
//	dir/.wh.NAME        NAME was deleted    → overlay whiteout: a character device 0/0 named NAME
//	dir/.wh..wh..opq    dir replaces, not merges → xattr trusted.overlay.opaque=y on dir
//
// Apply writes one layer into an empty directory, in that overlayfs form, so
// the directory can serve as a lowerdir as it is.
//
// # Why extraction never leaves its directory
//
// A layer comes from the network; its names are hostile until proven
// otherwise. tar(1) happily writes "../../etc/cron.d/x", "/etc/passwd", or
// "link/passwd" after "link -> /etc". Apply refuses all three, and more:
//
//   - a name is cleaned first; an absolute name, or one with a ".." part, is
//     refused;
//   - every directory on the way is opened with openat(dirfd, part,
//     O_NOFOLLOW|O_DIRECTORY), one part at a time, starting from the layer
//     directory's own file descriptor: a symlink on the way (made by an
//     earlier entry) makes openat fail with ELOOP, so nothing is ever
//     written through a link;
//   - the last part is created with *at calls relative to that directory fd
//     (O_CREAT|O_EXCL|O_NOFOLLOW, mknodat, symlinkat, linkat without
//     AT_SYMLINK_FOLLOW), so an existing symlink there is replaced, never
//     followed;
//   - a hardlink's target is resolved the same way, inside the layer.
//
// This is what `os.Root` does in the standard library (Go 1.24+), done by
// hand because os.Root has no mknodat and no xattr calls.
package layer

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"

	"ctrkit/internal/explain"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Overlayfs markers.
const (
	WhiteoutPrefix = ".wh."
	OpaqueMarker   = ".wh..wh..opq"
	OpaqueXattr    = "trusted.overlay.opaque"
	overlayXattrs  = "trusted.overlay."
)

// Limits on what a layer may ask for: names longer than the kernel's
// PATH_MAX (4096) or NAME_MAX (255) could never be created anyway, and an
// xattr value is at most 64 KiB (XATTR_SIZE_MAX).
const (
	maxName       = 4096
	maxPart       = 255
	maxXattrValue = 64 << 10
)

// An EntryError names the tar entry that made Apply refuse a layer.
type EntryError struct {
	Name   string
	Reason string
	Err    error
}

func (e *EntryError) Error() string {
	s := fmt.Sprintf("layer entry %q: %s", e.Name, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *EntryError) Unwrap() error { return e.Err }

// ErrUnsafe is wrapped by every error about an entry that tries to leave the
// layer directory.
var ErrUnsafe = errors.New("refused: it would write outside the layer directory")

// Options tune Apply.
type Options struct {
	// DiffID is the digest the uncompressed tar must have (the config's
	// rootfs.diff_ids entry). Apply hashes while reading and fails on a
	// mismatch. Empty: not checked.
	DiffID v1.Hash
	// NoChown skips ownership (for tests run without root).
	NoChown bool
	Log     *explain.Log
}

// Stats counts what Apply wrote.
type Stats struct {
	Entries, Whiteouts, Opaques int
	Bytes                       int64 // uncompressed tar size
}

// Decompress returns a reader of the tar inside r, recognising gzip and zstd
// by their magic numbers (1f 8b, 28 b5 2f fd) and anything else as a plain
// tar. The name of the format is returned for messages.
func Decompress(r io.Reader) (io.ReadCloser, string, error) {
	return decompress(r, nil)
}

// decompress is Decompress that also writes every byte of the tar to h (if
// not nil), on the read-ahead goroutine: the digest is computed while the
// extractor writes files, not in its way.
func decompress(r io.Reader, h hash.Hash) (io.ReadCloser, string, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, "", err
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, "gzip", fmt.Errorf("gzip: %w", err)
		}
		return readAhead(zr, h), "gzip", nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, "zstd", fmt.Errorf("zstd: %w", err)
		}
		return readAhead(zr.IOReadCloser(), h), "zstd", nil
	}
	return readAhead(io.NopCloser(br), h), "tar", nil
}

// readAhead decompresses (and hashes) on a goroutine of its own, a few MiB
// ahead of the reader, so decompression, the digest and the writes of files
// overlap (tar -xzf gets part of that from running gzip as a separate
// process). The chunks go round between two channels: no garbage per MiB.
func readAhead(rc io.ReadCloser, h hash.Hash) io.ReadCloser {
	const chunks, size = 4, 1 << 20
	full := make(chan chunk, chunks)
	free := make(chan []byte, chunks+1)
	for range chunks + 1 {
		free <- make([]byte, size)
	}
	done := make(chan struct{})
	go func() {
		defer close(full)
		for {
			var b []byte
			select {
			case b = <-free:
			case <-done:
				return
			}
			n, err := io.ReadFull(rc, b)
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
			if h != nil {
				h.Write(b[:n])
			}
			select {
			case full <- chunk{b[:n], err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return &aheadReader{full: full, free: free, close: func() error {
		close(done)
		for range full {
		}
		return rc.Close()
	}}
}

type chunk struct {
	b   []byte
	err error
}

type aheadReader struct {
	full  chan chunk
	free  chan []byte
	cur   []byte // the chunk being read, handed back when read
	buf   []byte // what is left of it
	err   error
	close func() error
}

func (r *aheadReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.cur != nil {
			r.free <- r.cur[:cap(r.cur)]
			r.cur = nil
		}
		if r.err != nil {
			return 0, r.err
		}
		c, ok := <-r.full
		if !ok {
			return 0, io.EOF
		}
		r.cur, r.buf, r.err = c.b, c.b, c.err
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *aheadReader) Close() error { return r.close() }

// Apply unpacks the layer read from r (compressed or not) into dir, which
// must exist and be empty, turning whiteouts into overlayfs ones. On error,
// dir holds part of the layer: the caller removes it (Store does).
func Apply(dir string, r io.Reader, opt Options) (Stats, error) {
	var st Stats
	var h hash.Hash
	if opt.DiffID.Hex != "" {
		h = sha256.New()
	}
	src, format, err := decompress(r, h)
	if err != nil {
		return st, err
	}
	defer src.Close()
	cr := &countReader{r: src}
	x, err := newExtractor(dir, opt)
	if err != nil {
		return st, err
	}
	defer x.close()
	tr := tar.NewReader(cr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, fmt.Errorf("read %s layer: %w (the layer is corrupt or truncated)", format, err)
		}
		if err := x.entry(hdr, tr, &st); err != nil {
			return st, err
		}
		st.Entries++
	}
	// The tar ends with two zero blocks, possibly padding after them: they
	// belong to the digest too.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return st, fmt.Errorf("read %s layer: %w (the layer is corrupt or truncated)", format, err)
	}
	st.Bytes = cr.n
	if err := x.finish(); err != nil {
		return st, err
	}
	if h != nil {
		// The reader saw EOF: the goroutine wrote its last bytes to h
		// before it sent the chunk that carried EOF.
		got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
		if got != opt.DiffID {
			return st, fmt.Errorf("layer content does not match its diff id: the uncompressed tar hashes to %s, the image config says %s", got, opt.DiffID)
		}
	}
	return st, nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Clean turns a tar entry name into a relative path inside the layer, or
// says why it cannot be one.
func Clean(name string) (string, error) {
	if len(name) > maxName {
		return "", &EntryError{Name: name[:64] + "…", Reason: fmt.Sprintf("name of %d bytes is longer than PATH_MAX (4096)", len(name))}
	}
	if strings.ContainsRune(name, 0) {
		return "", &EntryError{Name: name, Reason: "name contains a NUL byte"}
	}
	if strings.HasPrefix(name, "/") {
		return "", &EntryError{Name: name, Reason: "absolute name", Err: ErrUnsafe}
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", &EntryError{Name: name, Reason: `name contains ".."`, Err: ErrUnsafe}
		}
		if len(part) > maxPart {
			return "", &EntryError{Name: name, Reason: "a name part is longer than NAME_MAX (255)"}
		}
	}
	p := path.Clean(name)
	if p == "." {
		return ".", nil
	}
	return p, nil
}
