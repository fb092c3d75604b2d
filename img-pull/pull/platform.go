package pull

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"

	"ctrkit/internal/explain"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// parsePlatform reads os/arch[/variant]; empty means the host's platform.
func parsePlatform(s string) (v1.Platform, error) {
	if s == "" {
		p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
		switch runtime.GOARCH {
		case "arm64":
			p.Variant = "v8"
		case "arm":
			p.Variant = "v7"
		}
		return p, nil
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return v1.Platform{}, fmt.Errorf("parse platform %q: want OS/ARCH[/VARIANT], e.g. linux/arm64 or linux/arm/v7", s)
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// choosePlatform picks the manifest for want from a manifest list. A
// variant only narrows the choice when the list gives variants (arm64
// images often omit v8). A nested manifest list without a platform holds
// its platforms inside: it is followed when no entry names want.
func choosePlatform(body []byte, want v1.Platform, log *explain.Log) (v1.Descriptor, error) {
	idx, err := v1.ParseIndexManifest(bytes.NewReader(body))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("parse manifest list: %w", err)
	}
	var have []string
	var best, nested *v1.Descriptor
	for i, m := range idx.Manifests {
		if m.Platform == nil {
			if nested == nil && m.MediaType.IsIndex() {
				nested = &idx.Manifests[i]
			}
			continue
		}
		p := m.Platform
		have = append(have, p.String())
		log.Note("manifest list entry: %s %s", p, m.Digest)
		if p.OS != want.OS || p.Architecture != want.Architecture {
			continue
		}
		if p.Variant == want.Variant {
			best = &idx.Manifests[i]
			break
		}
		if best == nil && (p.Variant == "" || want.Variant == "" || want.Architecture == "arm64") {
			best = &idx.Manifests[i]
		}
	}
	if best == nil && nested != nil {
		log.Note("no entry for platform %s; following the nested manifest list %s", want, nested.Digest)
		return *nested, nil
	}
	if best == nil {
		return v1.Descriptor{}, fmt.Errorf("no manifest for platform %s in the manifest list (it has %s): choose one with --platform", want, strings.Join(have, ", "))
	}
	log.Note("chose %s for platform %s", best.Digest, want)
	return *best, nil
}
