package layer

import (
	"slices"

	"ctrkit/internal/explain"
	"ctrkit/internal/store"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// OpenImage opens the image store under root and finds ref (a name or a
// manifest digest) in it.
func OpenImage(root, ref string) (*store.Store, *store.Image, error) {
	images, err := store.Open(root)
	if err != nil {
		return nil, nil, err
	}
	img, err := images.Resolve(ref)
	if err != nil {
		return nil, nil, err
	}
	return images, img, nil
}

// UnpackImage finds ref under root and unpacks every layer of it the layer
// store does not have yet; it returns the image, the layer store and the
// image's layers, bottom first.
func UnpackImage(root, ref string, log *explain.Log) (*store.Image, *Store, []Layer, error) {
	images, img, err := OpenImage(root, ref)
	if err != nil {
		return nil, nil, nil, err
	}
	ls, err := OpenStore(root, log)
	if err != nil {
		return nil, nil, nil, err
	}
	layers, err := ls.Ensure(images, img, Options{Log: log})
	return img, ls, layers, err
}

// SharedWith says, for each chain id, which other images of the store
// (short names, each once, in store order) have that layer too: the
// layers they share on disk. Images it cannot read are left out.
func SharedWith(images *store.Store, img *store.Image) map[v1.Hash][]string {
	shared := map[v1.Hash][]string{}
	es, err := images.List()
	if err != nil {
		return shared
	}
	for _, e := range es {
		if e.Name == img.Name {
			continue
		}
		other, err := images.Resolve(e.Descriptor.Digest.String())
		if err != nil {
			continue
		}
		ols, err := Layers(other)
		if err != nil {
			continue
		}
		name := store.ShortName(e.Name)
		for _, l := range ols {
			if s := shared[l.ChainID]; !slices.Contains(s, name) {
				shared[l.ChainID] = append(s, name)
			}
		}
	}
	return shared
}
