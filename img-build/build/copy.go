package build

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// copyItem is one file COPY or ADD puts into the layer.
type copyItem struct {
	src     string      // path inside the source (context or stage rootfs)
	dest    string      // absolute path in the image
	info    fs.FileInfo // Lstat of src
	link    string      // symlink target
	extract bool        // ADD: unpack this tar archive into dest
	inline  *inlineFile // a heredoc source: the content is here, not in a file
}

// inlineFile is a heredoc source of COPY/ADD: a file named NAME (the
// heredoc's word), mode 0644, holding the heredoc's lines.
type inlineFile struct {
	name, data string
}

// inlineInfo is the fs.FileInfo of an inline file.
type inlineInfo struct{ f *inlineFile }

func (i inlineInfo) Name() string       { return i.f.name }
func (i inlineInfo) Size() int64        { return int64(len(i.f.data)) }
func (i inlineInfo) Mode() fs.FileMode  { return 0o644 }
func (i inlineInfo) ModTime() time.Time { return time.Time{} }
func (i inlineInfo) IsDir() bool        { return false }
func (i inlineInfo) Sys() any           { return nil }

// owner is --chown's result; nil keeps the default.
type owner struct{ uid, gid int }

// copyPlan is everything a COPY/ADD step writes.
type copyPlan struct {
	root    *os.Root
	items   []copyItem
	chown   *owner
	chmod   *fs.FileMode
	keepIDs bool // keep the source's owners (COPY --from), else 0:0
	buf     []byte
}

var errNoMatch = errors.New("no such file")

// planCopy resolves the sources of COPY/ADD in root (the context, which
// ign filters, or another stage's root filesystem) against dest, the way
// Docker does:
//
//   - a directory source copies its contents, not itself, into dest;
//   - a file source lands at dest, or at dest/NAME when dest ends in /,
//     is an existing directory, or there are several sources;
//   - globs (* ? [a-z]) pick several sources;
//   - a heredoc source (inline) is a file named after its word.
func planCopy(root *os.Root, srcs []string, inline []inlineFile, dest string, ign *Ignore, ix *fileIndex, add bool) ([]copyItem, error) {
	fsys := root.FS()
	var matched []string
	for _, s := range srcs {
		rel := strings.TrimPrefix(path.Clean("/"+s), "/")
		if rel == "" {
			rel = "."
		}
		if strings.ContainsAny(rel, "*?[") {
			ms, err := fs.Glob(fsys, rel)
			if err != nil {
				return nil, fmt.Errorf("source %q: %w", s, err)
			}
			n := 0
			for _, m := range ms {
				if !ign.Ignored(m) {
					matched = append(matched, m)
					n++
				}
			}
			if n == 0 {
				return nil, fmt.Errorf("source %q: %w matches the pattern", s, errNoMatch)
			}
			continue
		}
		if ign.Ignored(rel) {
			return nil, fmt.Errorf("source %q: %w (it is excluded by .dockerignore)", s, errNoMatch)
		}
		if _, err := root.Lstat(rel); err != nil {
			return nil, fmt.Errorf("source %q: %w", s, errNoMatch)
		}
		matched = append(matched, rel)
	}
	toDir := strings.HasSuffix(dest, "/") || len(matched)+len(inline) > 1 || ix.isDir(dest)
	dest = path.Clean(dest)
	var items []copyItem
	for i := range inline {
		d := dest
		if toDir {
			d = path.Join(dest, inline[i].name)
		}
		items = append(items, copyItem{src: "<<" + inline[i].name, dest: d, info: inlineInfo{&inline[i]}, inline: &inline[i]})
	}
	for _, m := range matched {
		fi, err := root.Lstat(m)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			d := dest
			if toDir {
				d = path.Join(dest, path.Base(m))
			}
			it := copyItem{src: m, dest: d, info: fi}
			if fi.Mode()&fs.ModeSymlink != 0 {
				it.link, _ = root.Readlink(m)
			}
			if add && fi.Mode().IsRegular() {
				if f, err := root.Open(m); err == nil {
					it.extract = isArchive(f)
					f.Close()
					if it.extract {
						it.dest = dest
					}
				}
			}
			items = append(items, it)
			continue
		}
		items = append(items, copyItem{src: m, dest: dest, info: fi})
		err = fs.WalkDir(fsys, m, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p == m {
				return nil
			}
			if ign.Ignored(p) {
				if d.IsDir() && !ign.MayHoldIncluded(p) {
					return fs.SkipDir
				}
				return nil
			}
			fi, err := root.Lstat(p)
			if err != nil {
				return err
			}
			rel := strings.TrimPrefix(p, m+"/")
			if m == "." {
				rel = p
			}
			it := copyItem{src: p, dest: path.Join(dest, rel), info: fi}
			if fi.Mode()&fs.ModeSymlink != 0 {
				it.link, _ = root.Readlink(p)
			}
			items = append(items, it)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walk %q: %w", m, err)
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].dest < items[j].dest })
	return items, nil
}

// open reads the content of a regular file item.
func (p *copyPlan) open(it copyItem) (io.ReadCloser, error) {
	if it.inline != nil {
		return io.NopCloser(strings.NewReader(it.inline.data)), nil
	}
	return p.root.Open(it.src)
}

// copyFile copies the file r into w through the plan's one buffer. io.Copy
// would take 32 KiB anew for every file (an *os.File's WriteTo does), and on
// a fresh heap those are new pages, each a fault: 5% of a cold build's
// CPU in img-build for bench-build's 50 files, counted twice (Hash, write).
func (p *copyPlan) copyFile(w io.Writer, r io.Reader) error {
	if p.buf == nil {
		p.buf = make([]byte, 32<<10)
	}
	_, err := io.CopyBuffer(w, struct{ io.Reader }{r}, p.buf) // hides WriteTo
	return err
}

// header is the tar header for it in the layer.
func (p *copyPlan) header(it copyItem) (*tar.Header, error) {
	h, err := tar.FileInfoHeader(it.info, it.link)
	if err != nil {
		return nil, err
	}
	h.Name = strings.TrimPrefix(it.dest, "/")
	if it.info.IsDir() {
		h.Name += "/"
	}
	h.Uname, h.Gname = "", ""
	if !p.keepIDs {
		h.Uid, h.Gid = 0, 0
	}
	if p.chown != nil {
		h.Uid, h.Gid = p.chown.uid, p.chown.gid
	}
	if p.chmod != nil && h.Typeflag != tar.TypeSymlink {
		h.Mode = int64(*p.chmod)
	}
	h.Format = tar.FormatPAX
	h.AccessTime, h.ChangeTime = timeZero, timeZero
	return h, nil
}

// Hash is the cache input of a COPY/ADD: for every file, in order, its
// destination, type, mode, owner, link target and content digest. Not
// its mtime: touching a file does not invalidate the cache.
func (p *copyPlan) Hash() (string, error) {
	h := sha256.New()
	for _, it := range p.items {
		th, err := p.header(it)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%c\x00%o\x00%d:%d\x00%s\x00%v\x00", th.Name, th.Typeflag, th.Mode, th.Uid, th.Gid, th.Linkname, it.extract)
		if it.info.Mode().IsRegular() {
			f, err := p.open(it)
			if err != nil {
				return "", err
			}
			err = p.copyFile(h, f)
			f.Close()
			if err != nil {
				return "", fmt.Errorf("read %s: %w", it.src, err)
			}
		}
		h.Write([]byte{0})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// write puts the plan's files into w, and before them every parent
// directory the image lacks (mode 0755, root).
func (p *copyPlan) write(w *tar.Writer, ix *fileIndex) (int, error) {
	n := 0
	made := map[string]bool{}
	parents := func(dest string) error {
		var missing []string
		for d := path.Dir(dest); d != "/" && d != "."; d = path.Dir(d) {
			if ix.exists(d) || made[d] {
				break
			}
			missing = append(missing, d)
		}
		for i := len(missing) - 1; i >= 0; i-- {
			made[missing[i]] = true
			if err := w.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(missing[i], "/") + "/", Mode: 0o755, Format: tar.FormatPAX}); err != nil {
				return err
			}
			n++
		}
		return nil
	}
	for _, it := range p.items {
		if made[it.dest] {
			continue
		}
		if err := parents(it.dest); err != nil {
			return n, err
		}
		if it.extract {
			m, err := p.extract(w, it, made)
			n += m
			if err != nil {
				return n, err
			}
			continue
		}
		h, err := p.header(it)
		if err != nil {
			return n, err
		}
		made[it.dest] = true
		if err := w.WriteHeader(h); err != nil {
			return n, err
		}
		n++
		if h.Typeflag == tar.TypeReg {
			f, err := p.open(it)
			if err != nil {
				return n, err
			}
			err = p.copyFile(w, f)
			f.Close()
			if err != nil {
				return n, fmt.Errorf("copy %s: %w", it.src, err)
			}
		}
	}
	return n, nil
}

// extract writes the entries of the archive it (ADD of a local tar) under
// it.dest. Names are cleaned so no entry leaves dest; hard links are
// re-pointed inside dest.
func (p *copyPlan) extract(w *tar.Writer, it copyItem, made map[string]bool) (int, error) {
	f, err := p.root.Open(it.src)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r, err := decompress(bufio.NewReader(f))
	if err != nil {
		return 0, fmt.Errorf("ADD %s: %w", it.src, err)
	}
	if !made[it.dest] && !strings.HasSuffix(it.dest, "/") {
		made[it.dest] = true
		if err := w.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(it.dest, "/") + "/", Mode: 0o755, Format: tar.FormatPAX}); err != nil {
			return 0, err
		}
	}
	n := 0
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("ADD %s: %w", it.src, err)
		}
		name := path.Join(it.dest, path.Clean("/"+h.Name))
		if name == it.dest {
			continue
		}
		h.Name = strings.TrimPrefix(name, "/")
		if h.Typeflag == tar.TypeDir {
			h.Name += "/"
		}
		if h.Typeflag == tar.TypeLink {
			h.Linkname = strings.TrimPrefix(path.Join(it.dest, path.Clean("/"+h.Linkname)), "/")
		}
		if p.chown != nil {
			h.Uid, h.Gid = p.chown.uid, p.chown.gid
		}
		h.Uname, h.Gname = "", ""
		h.Format = tar.FormatPAX
		if err := w.WriteHeader(h); err != nil {
			return n, err
		}
		if _, err := io.Copy(w, tr); err != nil {
			return n, err
		}
		n++
	}
}
