package overlay

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"ctrkit/internal/spec"
)

// CleanState removes STATE/ID when it holds nothing but the resource list
// and every resource in it is fs-layer's: the other stages (cg-limit,
// net-bridge, ns-enter) clean their own, so a directory with one of their
// records, or any other file, stays. It is best effort: an error leaves the
// directory in place.
func CleanState(state, id string) {
	dir := filepath.Join(state, id)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		// fsutil.WriteFile's temporary files are .NAME.tmp-*: one left by a
		// writer that was killed is ours to remove with the rest.
		if e.Name() != "resources.json" && e.Name() != ".lock" && !strings.HasPrefix(e.Name(), ".resources.json.tmp") {
			return
		}
	}
	rs, err := spec.StateResources(state, id)
	if err != nil {
		return
	}
	for _, r := range rs {
		if r.Stage != "fs-layer" {
			return
		}
	}
	os.RemoveAll(dir)
}

// VolumeUser returns the id of a container under root that uses the named
// volume, or "" when none does (containers it cannot read are skipped).
func VolumeUser(root, state, name string) string {
	ids, _ := List(root)
	for _, id := range ids {
		if c, err := Load(root, state, id); err == nil && slices.Contains(c.Volumes, name) {
			return id
		}
	}
	return ""
}

// Which is Which over the container's layers: its upper dir (Found.Layer
// 0), then the image's layers from the top (Found.Layer 1 is the top
// layer, len(LayerDirs()) the bottom one).
func (c *Container) Which(rel string) (*Found, error) {
	dirs := []string{c.Upper()}
	lds := c.LayerDirs()
	for i := len(lds) - 1; i >= 0; i-- {
		dirs = append(dirs, lds[i])
	}
	return Which(dirs, rel)
}
