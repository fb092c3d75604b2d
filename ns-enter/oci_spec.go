package main

// runc features and spec: what this runtime supports, a default config.json (oci.go has the command line).

import (
	"fmt"
	"os"
	"path/filepath"

	"ctrkit/internal/spec"
	"ctrkit/ns-enter/container"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

type OCIFeaturesCmd struct{}

func (c *OCIFeaturesCmd) Run(o *OCI) error {
	yes := true
	f := features.Features{
		OCIVersionMin: "1.0.0", OCIVersionMax: specs.Version,
		Hooks:        []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions: container.MountOptions(),
		Linux: &features.Linux{
			Namespaces:   []string{"cgroup", "ipc", "mount", "network", "pid", "user", "uts"},
			Capabilities: container.CapNames(),
			Cgroup:       &features.Cgroup{V1: &yes, V2: &yes, Systemd: new(bool)},
			Seccomp:      &features.Seccomp{Enabled: &yes},
		},
		Annotations: map[string]string{"io.github.ctrkit.runtime": "ns-enter"},
	}
	return printJSON(f)
}

type OCISpecCmd struct {
	Bundle string `short:"b" help:"Where to write config.json." default:"." type:"path" placeholder:"DIR"`
}

func (c *OCISpecCmd) Help() string {
	return "ctrkit's default spec, like runc spec's: rootfs/ in the bundle, sh with a terminal, new pid, network, ipc, uts and mount namespaces, docker's capabilities, seccomp profile and device allowlist."
}

func (c *OCISpecCmd) Run(o *OCI) error {
	path := filepath.Join(c.Bundle, "config.json")
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s exists already: remove it first", path)
	}
	s := spec.Default("rootfs", []string{"sh"})
	s.Process.Terminal = true
	s.Hostname = "ctrkit"
	for _, t := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace} {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t})
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return spec.Write(f, s)
}
