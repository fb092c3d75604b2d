package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"ctrkit/cg-limit/cgroup"
	"ctrkit/internal/cli"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type specs_Linux = specs.Linux

// InfoCmd is cg-limit info.
type InfoCmd struct {
	Format string `help:"Output format: text or json." enum:"text,json" default:"text"`
}

func (c *InfoCmd) Help() string {
	return `Tells the mode: v2 (one cgroup2 tree, /sys/fs/cgroup, with every controller), v1 (one
tree per controller) or hybrid (v1 trees plus a cgroup2 tree, often holding no
controller at all); where each controller lives; and, for each flag, the file it
writes on this host.`
}

type controllerInfo struct {
	Controller string `json:"controller"`
	Version    string `json:"version"` // v2, v1 or "" when not mounted
	Mount      string `json:"mount"`
}

type flagInfo struct {
	Flag string `json:"flag"`
	File string `json:"file"`
}

func (c *InfoCmd) Run(g *cli.Globals, s *Stdio) error {
	h, err := cgroup.Detect()
	if err != nil {
		return err
	}
	var ctrls []controllerInfo
	for _, name := range []string{"memory", "cpu", "cpuacct", "cpuset", "io", "pids", "freezer", "net_prio", "devices"} {
		ci := controllerInfo{Controller: name}
		if m, v2, ok := h.Where(name); ok {
			ci.Mount, ci.Version = m, map[bool]string{true: "v2", false: "v1"}[v2]
		}
		ctrls = append(ctrls, ci)
	}
	var flags []flagInfo
	for _, row := range cgroup.Table {
		f := flagInfo{Flag: row.Flag}
		if _, v2, ok := h.Where(row.Controller); ok {
			f.File = row.V1
			if v2 {
				f.File = row.V2
			}
		}
		if f.File == "" {
			f.File = "-"
		}
		flags = append(flags, f)
	}
	var v2ctrls []string
	for k := range h.V2 {
		v2ctrls = append(v2ctrls, k)
	}
	sort.Strings(v2ctrls)
	if c.Format == "json" {
		data, _ := json.MarshalIndent(map[string]any{
			"mode": h.Mode(), "unified": h.Unified, "unified_controllers": v2ctrls,
			"controllers": ctrls, "flags": flags,
		}, "", "  ")
		fmt.Fprintln(s.Stdout, string(data))
		return nil
	}
	desc := map[cgroup.Mode]string{
		cgroup.ModeV2:     "cgroup v2: one tree, every controller in it",
		cgroup.ModeV1:     "cgroup v1: one tree per controller",
		cgroup.ModeHybrid: "cgroup v1 trees for the controllers, plus a cgroup2 tree",
		cgroup.ModeNone:   "no cgroup file system mounted",
	}
	fmt.Fprintf(s.Stdout, "mode        %s (%s)\n", h.Mode(), desc[h.Mode()])
	if h.Unified != "" {
		fmt.Fprintf(s.Stdout, "cgroup2     %s, controllers: %s\n", h.Unified, orNone(strings.Join(v2ctrls, " ")))
	}
	fmt.Fprintln(s.Stdout)
	for _, ci := range ctrls {
		if ci.Version == "" {
			fmt.Fprintf(s.Stdout, "%-11s not mounted\n", ci.Controller)
			continue
		}
		fmt.Fprintf(s.Stdout, "%-11s %s  %s\n", ci.Controller, ci.Version, ci.Mount)
	}
	fmt.Fprintln(s.Stdout)
	fmt.Fprintln(s.Stdout, "flag → file on this host")
	for _, f := range flags {
		fmt.Fprintf(s.Stdout, "  %-22s %s\n", f.Flag, f.File)
	}
	for _, a := range advice(h) {
		fmt.Fprintf(s.Stdout, "\nnote: %s\n", a)
	}
	return nil
}

func advice(h *cgroup.Host) []string {
	var out []string
	switch h.Mode() {
	case cgroup.ModeHybrid:
		out = append(out, "limits go to the v1 trees; the cgroup2 tree holds only the controllers listed for it. Most distributions now boot pure v2 (kernel option systemd.unified_cgroup_hierarchy=1).")
	case cgroup.ModeV2:
		out = append(out, "cg-limit enables the controllers it uses in cgroup.subtree_control of the root and of /ctrkit, which therefore hold no processes (the no-internal-processes rule).")
	case cgroup.ModeNone:
		out = append(out, "mount one: mount -t cgroup2 none /sys/fs/cgroup")
	}
	if _, _, ok := h.Where("freezer"); !ok {
		out = append(out, "no freezer: freeze, thaw and a race-free kill need the v1 freezer hierarchy or cgroup v2.")
	}
	if _, _, ok := h.Where("net_prio"); !ok {
		out = append(out, "--net-prio needs a v1 net_prio hierarchy; cgroup v2 has none (match traffic by cgroup in nftables instead: socket cgroupv2).")
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
