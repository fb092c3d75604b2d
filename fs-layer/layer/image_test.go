package layer

import (
	"reflect"
	"testing"

	"ctrkit/internal/store"
)

func TestUnpackImageAndSharedWith(t *testing.T) {
	root := t.TempDir()
	images, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	base := mkTar(t, file("etc/os-release", "base", 0o644))
	a := putImage(t, images, "a:1", base, mkTar(t, file("a", "a", 0o644)))
	putImage(t, images, "b:1", base)
	putImage(t, images, "c:1", base, mkTar(t, file("c", "c", 0o644)))

	img, ls, layers, err := UnpackImage(root, "a:1", nil)
	if err != nil || img.Descriptor.Digest != a.Descriptor.Digest || len(layers) != 2 {
		t.Fatalf("UnpackImage(a:1) = %v, %d layers, %v; want a:1 with 2 layers", img, len(layers), err)
	}
	for _, l := range layers {
		if !ls.Has(l.ChainID) {
			t.Errorf("after UnpackImage, layer %d (%s) is not in the store", l.Index, l.ChainID)
		}
	}
	shared := SharedWith(images, img)
	if got := shared[layers[0].ChainID]; !reflect.DeepEqual(got, []string{"b:1", "c:1"}) {
		t.Errorf("SharedWith(a:1)[base] = %v, want [b:1 c:1]", got)
	}
	if got := shared[layers[1].ChainID]; len(got) != 0 {
		t.Errorf("SharedWith(a:1)[top] = %v, want none", got)
	}
	if _, _, _, err := UnpackImage(root, "nothing:here", nil); err == nil {
		t.Errorf("UnpackImage(nothing:here) = nil error, want one")
	}
	if _, _, err := OpenImage(t.TempDir()+"/\x00", "a:1"); err == nil {
		t.Errorf("OpenImage(bad root) = nil error, want one")
	}
}
