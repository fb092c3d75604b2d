package build

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"ctrkit/img-build/dockerfile"
	"ctrkit/internal/explain"
	"ctrkit/internal/imagespec"
)

// copyStep is a COPY or ADD after its words are read: the sources, the
// destination (absolute), the flags after $VAR substitution, and the step
// as the cache key sees it.
type copyStep struct {
	srcs   []string
	inline []inlineFile // heredoc sources: COPY <<EOF /dest
	dest   string
	from   string
	step   string
	plan   *copyPlan
}

// copy runs COPY or ADD: the files, from the build context or (COPY
// --from) another stage or image, become one layer.
func (b *builder) copy(s *stage, in dockerfile.Instruction) error {
	c, err := b.copyArgs(s, in)
	if err != nil {
		return err
	}
	b.progress(c.step)
	s.ix.update(b.images, b.cache, s.layers)
	if err := b.copyFlags(s, in, c); err != nil {
		return err
	}
	if c.from != "" {
		return b.copyFrom(s, in, c)
	}
	root, err := os.OpenRoot(b.opt.Context)
	if err != nil {
		return fmt.Errorf("open the build context: %w", err)
	}
	defer root.Close()
	c.plan.root = root
	items, err := planCopy(root, c.srcs, c.inline, c.dest, b.opt.Ignore, s.ix, in.Cmd == "ADD")
	if s.ix.err != nil {
		return s.ix.err // an image layer, not the context
	}
	if err != nil {
		return b.errorf(in, "%v in the build context %s", err, b.opt.Context)
	}
	c.plan.items = items
	extra, err := c.plan.Hash()
	if err != nil {
		return err
	}
	b.opt.Log.Note("%s: %d files, content hash %s (path, type, mode, owner, link, bytes; not mtime)", in.Cmd, len(items), short(extra))
	key := Key(s.key, c.step, extra)
	if b.cached(s, key, c.step, extra) {
		return nil
	}
	return b.writeCopy(s, in, c, key, extra)
}

// copyArgs reads the words of COPY/ADD: SOURCE… DEST, the destination
// made absolute against WORKDIR, and the heredoc sources.
func (b *builder) copyArgs(s *stage, in dockerfile.Instruction) (*copyStep, error) {
	words, err := b.words(s, in)
	if err != nil {
		return nil, err
	}
	if len(words)+len(in.Heredocs) < 2 || len(words) == 0 {
		return nil, b.errorf(in, "want SOURCE… DEST, got %q", in.Args)
	}
	c := &copyStep{srcs: words[:len(words)-1], dest: words[len(words)-1], plan: &copyPlan{}}
	for _, src := range c.srcs {
		if in.Cmd == "ADD" && (strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "git@")) {
			return nil, b.errorf(in, "%s: ADD from a URL is not supported (download it into the context, or RUN wget in a --network host build)", src)
		}
	}
	shown := append([]string(nil), c.srcs...)
	for _, h := range in.Heredocs {
		data := h.Content
		if h.Expand {
			if data, err = dockerfile.Expand(data, s.lookup, b.opt.Dockerfile.Escape); err != nil {
				return nil, b.errorf(in, "<<%s: %v", h.Name, err)
			}
		}
		c.inline = append(c.inline, inlineFile{name: h.Name, data: data})
		shown = append(shown, "<<"+h.Name)
	}
	if !path.IsAbs(c.dest) {
		wd := s.cfg.Config.WorkingDir
		if wd == "" {
			wd = "/"
		}
		trail := strings.HasSuffix(c.dest, "/")
		c.dest = path.Join(wd, c.dest)
		if trail {
			c.dest += "/"
		}
	}
	c.step = in.Cmd
	for _, k := range []string{"from", "chown", "chmod"} {
		if v, ok := in.Flags[k]; ok {
			w, err := dockerfile.Word(v, s.lookup, b.opt.Dockerfile.Escape)
			if err != nil {
				return nil, b.errorf(in, "%v", err)
			}
			in.Flags[k] = w
			c.step += " --" + k + "=" + w
		}
	}
	c.from = in.Flags["from"]
	c.step += " " + explain.Join(shown) + " " + c.dest
	return c, nil
}

// copyFlags reads --chown and --chmod into the plan.
func (b *builder) copyFlags(s *stage, in dockerfile.Instruction, c *copyStep) error {
	if v := in.Flags["chown"]; v != "" {
		o, err := chown(s.ix, v)
		if err != nil {
			return b.errorf(in, "%v", err)
		}
		c.plan.chown = o
	}
	if v := in.Flags["chmod"]; v != "" {
		m, err := strconv.ParseUint(v, 8, 32)
		if err != nil {
			return b.errorf(in, "--chmod=%s: want an octal mode such as 0755", v)
		}
		fm := fs.FileMode(m)
		c.plan.chmod = &fm
	}
	return nil
}

// copyFrom runs COPY --from=STAGE|IMAGE: the source is another stage (or
// image), mounted with fs-layer and read through os.Root so its symlinks
// cannot lead outside. The cache key takes the other stage's key (or the
// image's digest) instead of a content hash.
func (b *builder) copyFrom(s *stage, in dockerfile.Instruction, c *copyStep) error {
	ref, extra := c.from, ""
	if j, ok := b.stageRef(c.from, s.index); ok {
		extra = "stage " + b.stages[j].key
		tmp, err := b.tempImage(b.stages[j])
		if err != nil {
			return err
		}
		defer b.untag(tmp)
		ref = tmp
	} else {
		img, err := b.images.Resolve(c.from)
		if err != nil {
			return b.errorf(in, "--from=%s: no such stage, and %v", c.from, err)
		}
		extra = "image " + img.Descriptor.Digest.String()
	}
	key := Key(s.key, c.step, extra)
	if b.cached(s, key, c.step, extra) {
		return nil
	}
	b.waitUnpack() // the image may share layers with the base
	dir, done, err := b.opt.Exec.Mount(ref)
	if err != nil {
		return b.errorf(in, "--from=%s: %v", c.from, err)
	}
	// Deferred first, so it runs last: the mount must not be busy with
	// our open directory when fs-layer rm unmounts it.
	defer done()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	c.plan.root, c.plan.keepIDs = root, true
	items, err := planCopy(root, c.srcs, c.inline, c.dest, nil, s.ix, false)
	if s.ix.err != nil {
		return s.ix.err
	}
	if err != nil {
		return b.errorf(in, "%v (in stage %s)", err, c.from)
	}
	c.plan.items = items
	return b.writeCopy(s, in, c, key, extra)
}

// writeCopy writes the plan as a layer and records it.
func (b *builder) writeCopy(s *stage, in dockerfile.Instruction, c *copyStep, key, extra string) error {
	w, err := newLayerWriter(b.images.Root + "/oci.tmp")
	if err != nil {
		return err
	}
	n, err := c.plan.write(w.tw, s.ix)
	if err == nil {
		err = s.ix.err
	}
	if err != nil {
		w.discard()
		return b.errorf(in, "%v", err)
	}
	l, err := w.finish(b.images, s.layerType, false)
	if err != nil {
		return err
	}
	fmt.Fprintf(b.opt.Out, "  layer %s (%d entries)\n", short(l.Desc.Digest.String()), n)
	b.opt.Log.Step(fmt.Sprintf("write blobs/sha256/%s (%d entries)", l.Desc.Digest.Hex, n), "tar -c … | gzip | sha256sum")
	return b.store(s, key, c.step, extra, l, c.step)
}

// chown reads --chown=USER[:GROUP], by number or by name from the image's
// /etc/passwd and /etc/group.
func chown(ix *fileIndex, v string) (*owner, error) {
	u, g, hasG := strings.Cut(v, ":")
	o := &owner{}
	if n, err := strconv.Atoi(u); err == nil {
		o.uid, o.gid = n, n
	} else if passwd, _, err := ix.users(); err != nil { // read only for a name
		return nil, fmt.Errorf("--chown=%s: %w", v, err)
	} else if id, gid, ok, err := imagespec.Lookup(passwd, "etc/passwd", u); err != nil {
		return nil, fmt.Errorf("--chown=%s: %w", v, err)
	} else if ok {
		o.uid, o.gid = int(id), int(gid)
	} else {
		return nil, fmt.Errorf("--chown=%s: no user %q in the image's /etc/passwd", v, u)
	}
	if hasG {
		if n, err := strconv.Atoi(g); err == nil {
			o.gid = n
		} else if _, group, err := ix.users(); err != nil {
			return nil, fmt.Errorf("--chown=%s: %w", v, err)
		} else if id, _, ok, err := imagespec.Lookup(group, "etc/group", g); err != nil {
			return nil, fmt.Errorf("--chown=%s: %w", v, err)
		} else if ok {
			o.gid = int(id)
		} else {
			return nil, fmt.Errorf("--chown=%s: no group %q in the image's /etc/group", v, g)
		}
	}
	return o, nil
}
