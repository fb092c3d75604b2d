package overlay

import (
	"slices"
)

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
