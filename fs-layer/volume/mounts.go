package volume

import specs "github.com/opencontainers/runtime-spec/specs-go"

// Mounts turns the -v and --tmpfs arguments of fs-layer mount into the
// spec's mounts, in order (volumes, then tmpfs), creating each named
// volume on first use (created is called with its directory). names are
// the named volumes used, for the container's record.
func Mounts(root string, vols, tmpfs []string, created func(dir string)) (mounts []specs.Mount, names []string, err error) {
	for _, arg := range vols {
		v, err := Parse(arg)
		if err != nil {
			return nil, nil, err
		}
		if v.Name != "" {
			vol, isNew, err := Create(root, v.Name)
			if err != nil {
				return nil, nil, err
			}
			if isNew && created != nil {
				created(vol.Mountpoint)
			}
			v.Source = vol.Mountpoint
			names = append(names, v.Name)
		}
		mounts = append(mounts, v.Mount())
	}
	for _, arg := range tmpfs {
		m, err := Tmpfs(arg)
		if err != nil {
			return nil, nil, err
		}
		mounts = append(mounts, m)
	}
	return mounts, names, nil
}
