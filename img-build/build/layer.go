package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"ctrkit/internal/store"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// A Layer is one layer of an image being built: the blob (gzip-compressed
// tar, named by the digest of the compressed bytes) and the diff id (the
// digest of the uncompressed tar, which the config lists).
type Layer struct {
	Desc   v1.Descriptor `json:"desc"`
	DiffID v1.Hash       `json:"diffID"`
}

// layerWriter writes a layer tar once, hashing it twice on the way: the
// tar itself (the diff id) and its gzip stream (the blob digest), into a
// temporary file that becomes the blob.
type layerWriter struct {
	f          *os.File
	tw         *tar.Writer
	zw         *gzip.Writer
	diff, blob hash.Hash
	raw        io.Writer // the uncompressed stream, before gzip
}

func newLayerWriter(tmpDir string) (*layerWriter, error) {
	f, err := os.CreateTemp(tmpDir, "layer-*.tar.gz")
	if err != nil {
		return nil, err
	}
	w := &layerWriter{f: f, diff: sha256.New(), blob: sha256.New()}
	w.zw, _ = gzip.NewWriterLevel(io.MultiWriter(f, w.blob), gzip.BestSpeed)
	w.raw = io.MultiWriter(w.zw, w.diff)
	w.tw = tar.NewWriter(w.raw)
	return w, nil
}

func (w *layerWriter) discard() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// finish closes the streams and stores the blob; tarDone says the tar was
// written through raw (a ready-made tar), not through tw.
func (w *layerWriter) finish(images *store.Store, mediaType types.MediaType, tarDone bool) (Layer, error) {
	defer w.discard()
	var err error
	if !tarDone {
		err = w.tw.Close()
	}
	if err == nil {
		err = w.zw.Close()
	}
	if err != nil {
		return Layer{}, fmt.Errorf("write layer: %w", err)
	}
	size, err := w.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return Layer{}, err
	}
	l := Layer{
		Desc:   v1.Descriptor{MediaType: mediaType, Size: size, Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(w.blob.Sum(nil))}},
		DiffID: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(w.diff.Sum(nil))},
	}
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		return Layer{}, err
	}
	if err := images.PutBlob(l.Desc.Digest, size, w.f); err != nil {
		return Layer{}, err
	}
	return l, nil
}

// fileIndex is what the image's layers hold so far, by path (no leading
// /): whether each entry is a directory, after whiteouts. img-build reads
// it to know whether a COPY destination is an existing directory, which
// parent directories a layer must create, and the image's /etc/passwd and
// /etc/group for --chown=NAME.
//
// It reads the layers only when first asked (load): reading means
// decompressing every layer, 10–30 ms for busybox's and far more for a
// big base, and a COPY whose destination ends in / and whose cache hits
// never asks. What a layer holds is then kept in the build cache
// (Cache.index), so that the next build on the same base, a --no-cache
// one or one of another Dockerfile, reads a few kilobytes instead.
type fileIndex struct {
	applied int
	entries map[string]bool // path → is a directory
	passwd  []byte
	group   []byte
	images  *store.Store
	cache   Cache
	layers  []Layer // the image's layers so far, as update last gave them
	err     error   // reading a layer failed: every answer since is wrong
}

func newFileIndex() *fileIndex { return &fileIndex{entries: map[string]bool{}} }

// update gives the image's layers so far; they are read when needed, and
// what each holds is kept in cache.
func (ix *fileIndex) update(images *store.Store, cache Cache, layers []Layer) {
	ix.images, ix.cache, ix.layers = images, cache, layers
}

// load applies the layers not applied yet; a failure stays in ix.err.
func (ix *fileIndex) load() {
	for ix.err == nil && ix.applied < len(ix.layers) {
		ix.err = ix.apply(ix.layers[ix.applied].Desc.Digest)
		ix.applied++
	}
}

// users is the image's /etc/passwd and /etc/group.
func (ix *fileIndex) users() (passwd, group []byte, err error) {
	ix.load()
	return ix.passwd, ix.group, ix.err
}

// layerIndex is what one layer does to the file tree, in its order, and
// the /etc/passwd and /etc/group it carries (nil when it has none).
type layerIndex struct {
	Ops    []indexOp `json:"ops"`
	Passwd []byte    `json:"passwd"`
	Group  []byte    `json:"group"`
}

// indexOp is one entry of a layer: Kind is "dir" or "file" (anything else
// that is not a directory), "whiteout" (the path is gone) or "opaque"
// (what lower layers had below the directory is gone).
type indexOp struct {
	Kind string `json:"kind"`
	Path string `json:"path"`
}

// apply adds layer d to the index: from the build cache, or read from the
// layer and kept there (a failure to keep it only means reading it again).
func (ix *fileIndex) apply(d v1.Hash) error {
	li := ix.cache.index(d)
	if li == nil {
		var err error
		if li, err = readIndex(ix.images, d); err != nil {
			return err
		}
		ix.cache.putIndex(d, li)
	}
	for _, op := range li.Ops {
		switch op.Kind {
		case "opaque":
			ix.removeUnder(op.Path)
		case "whiteout":
			delete(ix.entries, op.Path)
			ix.removeUnder(op.Path)
		default:
			ix.entries[op.Path] = op.Kind == "dir"
		}
	}
	if li.Passwd != nil {
		ix.passwd = li.Passwd
	}
	if li.Group != nil {
		ix.group = li.Group
	}
	return nil
}

// readIndex reads layer d's entries from its blob.
func readIndex(images *store.Store, d v1.Hash) (*layerIndex, error) {
	f, err := os.Open(images.BlobPath(d))
	if err != nil {
		return nil, fmt.Errorf("read layer %s: %w", d, err)
	}
	defer f.Close()
	r, err := decompress(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("read layer %s: %w", d, err)
	}
	li := &layerIndex{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return li, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read layer %s: %w", d, err)
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		dir, base := path.Split(name)
		dir = strings.TrimSuffix(dir, "/")
		switch {
		case base == ".wh..wh..opq":
			li.Ops = append(li.Ops, indexOp{"opaque", dir})
		case strings.HasPrefix(base, ".wh."):
			li.Ops = append(li.Ops, indexOp{"whiteout", path.Join(dir, strings.TrimPrefix(base, ".wh."))})
		case name == "":
		case h.Typeflag == tar.TypeDir:
			li.Ops = append(li.Ops, indexOp{"dir", name})
		default:
			li.Ops = append(li.Ops, indexOp{"file", name})
			if h.Typeflag == tar.TypeReg && (name == "etc/passwd" || name == "etc/group") {
				data, _ := io.ReadAll(io.LimitReader(tr, 1<<20))
				if name == "etc/passwd" {
					li.Passwd = data
				} else {
					li.Group = data
				}
			}
		}
	}
}

func (ix *fileIndex) removeUnder(dir string) {
	prefix := dir + "/"
	if dir == "" {
		prefix = ""
	}
	for k := range ix.entries {
		if strings.HasPrefix(k, prefix) {
			delete(ix.entries, k)
		}
	}
}

// isDir reports whether p (absolute) is a directory in the image.
func (ix *fileIndex) isDir(p string) bool {
	ix.load()
	return ix.entries[strings.TrimPrefix(path.Clean(p), "/")] || path.Clean(p) == "/"
}

func (ix *fileIndex) exists(p string) bool {
	ix.load()
	_, ok := ix.entries[strings.TrimPrefix(path.Clean(p), "/")]
	return ok || path.Clean(p) == "/"
}

// decompress sniffs gzip, bzip2 or a plain tar; xz and zstd are named in
// the error.
func decompress(br *bufio.Reader) (io.Reader, error) {
	magic, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(br)
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return nil, fmt.Errorf("xz compression is not supported (decompress it first)")
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return nil, fmt.Errorf("zstd compression is not supported (decompress it first)")
	}
	return br, nil
}

// isArchive reports whether the file at r is a tar archive, plain or
// compressed: what ADD unpacks.
func isArchive(r io.Reader) bool {
	br := bufio.NewReader(r)
	dr, err := decompress(br)
	if err != nil {
		return strings.Contains(err.Error(), "not supported")
	}
	buf := make([]byte, 512)
	if _, err := io.ReadFull(dr, buf); err != nil {
		return false
	}
	return string(buf[257:262]) == "ustar"
}

var timeZero = time.Time{}
