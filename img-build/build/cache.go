package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"ctrkit/internal/fsutil"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The build cache.
//
// Every step of a build has a key, a sha256 over
//
//	the parent's key            (so a change invalidates every later step)
//	the instruction             (after $VAR substitution)
//	extra inputs                (COPY/ADD: the content hash of the sources,
//	                             see copyPlan.Hash; COPY --from: the other
//	                             stage's key; RUN: the build args in effect)
//
// and the first step's key is made from the base image's manifest digest.
//
// The parent of the step after a layer step is not that step's key but
// sha256(key, the diff id of the layer it made or reused): the key names
// the whole chain of layers below. A RUN need not give the same layer
// twice (RUN date > f), so two builds running one step at once store two
// layers under one key and the last write wins; were the next step keyed
// by the step key alone, a later build could take the winner's layer for
// step 2 and the loser's step 3, made on another step 2. Keyed by the
// layer chain, each step 3 is found only on top of the step 2 it was made
// on (BuildKit keys its cache by the content of the parent's result the
// same way).
// A step that makes a layer (RUN, COPY, ADD) stores what it made under
// ROOT/build-cache/KEY.json; the next build computes the same key and
// reuses the layer without running anything. To say why a step missed, two
// more files are kept: ROOT/build-cache/parent-PARENT (this parent has been
// built on before) and ROOT/build-cache/step-HASH (the last extra inputs
// seen for this parent and instruction).

// Key derives a step's cache key from its parent's key and its inputs.
func Key(parent string, inputs ...string) string {
	h := sha256.New()
	fmt.Fprintf(h, "ctrkit-build-v1\x00%s\x00", parent)
	for _, in := range inputs {
		fmt.Fprintf(h, "%d:%s\x00", len(in), in)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Entry is one cached step.
type Entry struct {
	Key       string    `json:"key"`
	Parent    string    `json:"parent"`
	Step      string    `json:"step"`
	Extra     string    `json:"extra,omitempty"`
	Layer     Layer     `json:"layer"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"createdBy"`
}

// Cache is the directory of entries.
type Cache struct{ Dir string }

func hexOf(s string) string {
	if len(s) > 7 && s[:7] == "sha256:" {
		return s[7:]
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func (c Cache) path(kind, key string) string {
	return filepath.Join(c.Dir, kind+hexOf(key)+".json")
}

func stepID(parent, step string) string { return Key(parent, "step", step) }

// Get returns the entry for key, or nil and the reason it is not usable.
func (c Cache) Get(key, parent, step, extra string, has func(v1.Hash, int64) bool) (*Entry, string) {
	data, err := os.ReadFile(c.path("", key))
	if err == nil {
		var e Entry
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, fmt.Sprintf("the cache entry %s is damaged (%v)", c.path("", key), err)
		}
		if !has(e.Layer.Desc.Digest, e.Layer.Desc.Size) {
			return nil, fmt.Sprintf("the cached layer %s is no longer in the store (img-pull gc removed it)", e.Layer.Desc.Digest)
		}
		return &e, ""
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err.Error()
	}
	if data, err := os.ReadFile(c.path("step-", stepID(parent, step))); err == nil {
		var last Entry
		if json.Unmarshal(data, &last) == nil && last.Extra != extra {
			return nil, fmt.Sprintf("same parent and instruction, but its other inputs changed: %s, was %s", short(extra), short(last.Extra))
		}
	}
	if _, err := os.Stat(c.path("parent-", parent)); err == nil {
		return nil, "no step with this instruction was built on this parent before (the instruction is new or changed)"
	}
	return nil, fmt.Sprintf("the parent key %s is new: an earlier step changed, so every step after it misses", short(parent))
}

// Put records e. Atomically, not durably (fsutil.WriteDraft): after a crash
// an entry may be gone or empty, which Get takes for a miss, and the layer
// an entry names was written durably before it (layerWriter.finish), so no
// entry outlives its layer. WriteFile's fsyncs were two waits for the disk
// per file, four per layer step.
func (c Cache) Put(e *Entry) error {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	for _, p := range []string{c.path("", e.Key), c.path("step-", stepID(e.Parent, e.Step))} {
		// A temporary file of its own: concurrent builds never share one.
		if err := fsutil.WriteDraft(p, data, 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(c.path("parent-", e.Parent), nil, 0o644)
}

// index is the file index of layer d an earlier build kept
// (index-HEX.json), or nil. The layer's digest names its content, so a
// kept index is never stale; one that does not parse is a miss.
func (c Cache) index(d v1.Hash) *layerIndex {
	if c.Dir == "" {
		return nil
	}
	data, err := os.ReadFile(c.path("index-", d.String()))
	if err != nil {
		return nil
	}
	var li layerIndex
	if json.Unmarshal(data, &li) != nil {
		return nil
	}
	return &li
}

// hasIndex reports whether layer d's file index is kept.
func (c Cache) hasIndex(d v1.Hash) bool {
	if c.Dir == "" {
		return false
	}
	_, err := os.Stat(c.path("index-", d.String()))
	return err == nil
}

// putIndex keeps layer d's file index. It is a cache: written without
// fsync (fsutil.WriteDraft), and a failure is only a miss next time.
func (c Cache) putIndex(d v1.Hash, li *layerIndex) {
	if c.Dir == "" || os.MkdirAll(c.Dir, 0o755) != nil {
		return
	}
	if data, err := json.Marshal(li); err == nil {
		fsutil.WriteDraft(c.path("index-", d.String()), data, 0o644)
	}
}

func short(s string) string {
	if len(s) > 7+12 && s[:7] == "sha256:" {
		return s[:7+12]
	}
	if len(s) > 60 {
		return s[:59] + "…"
	}
	return s
}

// cached looks a layer step up; on a hit it adds the layer and reports true.
func (b *builder) cached(s *stage, key, step, extra string) bool {
	var why string
	var e *Entry
	if b.opt.NoCache {
		why = "--no-cache"
	} else {
		e, why = b.cache.Get(key, s.key, step, extra, b.images.HasBlob)
	}
	inputs := fmt.Sprintf("parent %s + %q", short(s.key), step)
	if extra != "" {
		inputs += " + " + short(extra)
	}
	if e == nil {
		b.opt.Log.Note("cache miss for key %s = sha256(%s): %s", short(key), inputs, why)
		return false
	}
	b.opt.Log.Note("cache hit for key %s = sha256(%s): layer %s from %s", short(key), inputs, short(e.Layer.Desc.Digest.String()), e.Created.Format(time.RFC3339))
	fmt.Fprintf(b.opt.Out, "  CACHED %s\n", short(e.Layer.Desc.Digest.String()))
	b.res.Cached++
	s.addLayer(e.Layer, e.Created, e.CreatedBy)
	s.key = chainKey(key, e.Layer)
	return true
}

// store records a step's new layer in the cache and in the stage.
func (b *builder) store(s *stage, key, step, extra string, l Layer, createdBy string) error {
	now := time.Now().UTC().Truncate(time.Second)
	e := &Entry{Key: key, Parent: s.key, Step: step, Extra: extra, Layer: l, Created: now, CreatedBy: createdBy}
	if err := b.cache.Put(e); err != nil {
		return fmt.Errorf("write build cache: %w", err)
	}
	s.addLayer(l, now, createdBy)
	s.key = chainKey(key, l)
	return nil
}

// chainKey is the parent key of the step after a layer step: the step's
// key and the layer it actually has (see above).
func chainKey(key string, l Layer) string { return Key(key, "layer", l.DiffID.String()) }

func (s *stage) addLayer(l Layer, created time.Time, createdBy string) {
	if l.Desc.MediaType == "" {
		l.Desc.MediaType = s.layerType
	}
	s.layers = append(s.layers, l)
	s.cfg.RootFS.Type = "layers"
	s.cfg.RootFS.DiffIDs = append(s.cfg.RootFS.DiffIDs, l.DiffID)
	s.cfg.History = append(s.cfg.History, v1.History{Created: v1.Time{Time: created}, CreatedBy: createdBy})
	s.created = created
}
