package main

// The namespace flags: which kinds, joining --target's, the id maps.

import (
	"errors"
	"fmt"
	"os"

	"ctrkit/ns-enter/namespace"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// kinds lists the namespace kinds the flags ask for, implied ones included.
func (f *specFlags) kinds() []namespace.Kind {
	want := map[string]bool{
		"pid": f.PID, "net": f.Net, "ipc": f.IPC, "uts": f.UTS || f.Hostname != "",
		"mnt":    f.Mount || f.MountProc || f.Rootfs != "",
		"user":   f.User || f.MapRoot || len(f.UIDMap)+len(f.GIDMap) > 0,
		"cgroup": f.Cgroup,
		"time":   f.Time || f.TimeOffset != "",
	}
	var ks []namespace.Kind
	for _, k := range namespace.Kinds {
		if f.All || want[k.Name] {
			ks = append(ks, k)
		}
	}
	return ks
}

// join points the spec at the namespaces of --target, like nsenter(1).
// inContainer says s is the target container's own spec, whose cwd is a
// path inside it.
func (f *specFlags) join(s *specs.Spec, kinds []namespace.Kind, inContainer bool) error {
	es, err := namespace.Of(f.Target)
	if err != nil {
		return fmt.Errorf("--target: %w", err)
	}
	if f.Rootfs != "" || f.MountProc || f.MapRoot || len(f.UIDMap)+len(f.GIDMap) > 0 {
		return errors.New("--target joins existing namespaces: --rootfs, --mount-proc and id maps belong to new ones")
	}
	self, err := namespace.Of(os.Getpid())
	if err != nil {
		return err
	}
	for i, e := range es {
		if e.Inode == self[i].Inode {
			continue // already ours; the kernel refuses to re-join a user namespace
		}
		chosen := len(kinds) == 0
		for _, k := range kinds {
			chosen = chosen || k.Name == e.Kind.Name
		}
		if !chosen {
			continue
		}
		addNamespace(s, specs.LinuxNamespace{Type: e.Kind.OCI, Path: e.Kind.Path(f.Target)})
		if e.Kind.Name == "mnt" && f.Workdir == "" && !inContainer {
			s.Process.Cwd = "/" // setns(CLONE_NEWNS) moves us to the namespace's root
		}
	}
	if len(s.Linux.Namespaces) == 0 {
		return fmt.Errorf("--target %d: the process shares those namespaces with ns-enter already; nothing to join", f.Target)
	}
	return nil
}

// idMaps fills the user namespace's id maps from the flags.
func (f *specFlags) idMaps(s *specs.Spec) error {
	newUser := false
	for _, ns := range s.Linux.Namespaces {
		newUser = newUser || ns.Type == specs.UserNamespace && ns.Path == ""
	}
	if f.MapRoot || newUser && len(f.UIDMap) == 0 && len(s.Linux.UIDMappings) == 0 {
		// Without a map every id inside is the overflow id 65534 and the
		// command loses its capabilities at execve; map root like unshare -r.
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Geteuid()), Size: 1}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Getegid()), Size: 1}}
	}
	parse := func(lines []string) ([]specs.LinuxIDMapping, error) {
		var ms []specs.LinuxIDMapping
		for _, l := range lines {
			m, err := namespace.ParseIDMap(l)
			if err != nil {
				return nil, err
			}
			ms = append(ms, m)
		}
		return ms, nil
	}
	uids, err := parse(f.UIDMap)
	if err != nil {
		return fmt.Errorf("--uid-map: %w", err)
	}
	gids, err := parse(f.GIDMap)
	if err != nil {
		return fmt.Errorf("--gid-map: %w", err)
	}
	if len(gids) == 0 {
		gids = uids
	}
	if len(uids) > 0 {
		s.Linux.UIDMappings, s.Linux.GIDMappings = uids, gids
	}
	if f.User || f.MapRoot || len(uids) > 0 {
		// Inside, we are whoever uid and gid 0 map to.
		if s.Process.User.UID == uint32(os.Getuid()) && s.Process.User.GID == uint32(os.Getgid()) {
			s.Process.User = specs.User{}
		}
	}
	return nil
}

func addNamespace(s *specs.Spec, ns specs.LinuxNamespace) {
	for i, have := range s.Linux.Namespaces {
		if have.Type == ns.Type {
			s.Linux.Namespaces[i] = ns
			return
		}
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, ns)
}
