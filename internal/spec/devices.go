package spec

import specs "github.com/opencontainers/runtime-spec/specs-go"

// DefaultDeviceRules is the device cgroup allowlist of a docker container
// (linux.resources.devices), in docker's order: what moby writes into the
// spec, github.com/moby/moby daemon/pkg/oci/defaults.go (DefaultLinuxSpec,
// until v28 oci/defaults.go), followed by what runc appends to every
// container's list, github.com/opencontainers/runc
// libcontainer/specconv/spec_linux.go (AllowedDevices). Later rules win.
//
// Everything is denied, then: mknod of any node (docker keeps CAP_MKNOD,
// so images may ship device nodes, but using one needs a rule below); the
// nodes every container gets, null zero full random urandom tty; console
// 5:1, ptmx 5:2 and the pseudo-terminals 136:*; tun 10:200. fuse 10:229 is
// denied for reading and writing (moby's rule), though runc's later mknod
// rule still lets it be made. cg-limit turns the list into devices.allow
// and devices.deny writes on cgroup v1, an eBPF program on v2.
func DefaultDeviceRules() []specs.LinuxDeviceCgroup {
	return append(mobyDeviceRules(), RuntimeDeviceRules()...)
}

func rule(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	r := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
	if major >= 0 {
		r.Major = &major
	}
	if minor >= 0 {
		r.Minor = &minor
	}
	return r
}

const all = -1

func mobyDeviceRules() []specs.LinuxDeviceCgroup {
	return []specs.LinuxDeviceCgroup{
		// moby's DefaultLinuxSpec
		{Allow: false, Access: "rwm"},
		rule(true, "c", 1, 5, "rwm"),     // zero
		rule(true, "c", 1, 3, "rwm"),     // null
		rule(true, "c", 1, 9, "rwm"),     // urandom
		rule(true, "c", 1, 8, "rwm"),     // random
		rule(true, "c", 5, 0, "rwm"),     // tty
		rule(true, "c", 5, 1, "rwm"),     // console
		rule(false, "c", 10, 229, "rwm"), // fuse
	}
}

// RuntimeDeviceRules are the rules the runtime itself adds after a spec's
// own device list (runc's AllowedDevices): the nodes it makes in every
// container's /dev must be usable whatever the spec says, so docker's spec
// need not list them (it does not list full, 1:7).
func RuntimeDeviceRules() []specs.LinuxDeviceCgroup {
	return []specs.LinuxDeviceCgroup{
		rule(true, "c", all, all, "m"),
		rule(true, "b", all, all, "m"),
		rule(true, "c", 1, 3, "rwm"),     // null
		rule(true, "c", 1, 8, "rwm"),     // random
		rule(true, "c", 1, 7, "rwm"),     // full
		rule(true, "c", 5, 0, "rwm"),     // tty
		rule(true, "c", 1, 5, "rwm"),     // zero
		rule(true, "c", 1, 9, "rwm"),     // urandom
		rule(true, "c", 136, all, "rwm"), // pts
		rule(true, "c", 5, 2, "rwm"),     // ptmx
		rule(true, "c", 10, 200, "rwm"),  // tun
	}
}
