package cgroup

// Writing limits: each setting into its kernel file, in the order the
// kernel accepts them, with a hint when it refuses one.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"ctrkit/internal/explain"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Update changes the limits of a cgroup that exists, while its processes run.
func (c *Cgroup) Update(r *specs.LinuxResources) error {
	settings, err := c.host.Settings(r)
	if err != nil {
		return err
	}
	for _, s := range settings {
		if d, _ := c.dir(s.Controller); d != "" {
			if _, err := os.Stat(d); err != nil {
				return fmt.Errorf("%s: cgroup %s was made without the %s controller: make a new one with the limit", s.Flag, c.Path(), s.Controller)
			}
		}
	}
	return c.apply(settings)
}

// apply writes the settings, in order.
func (c *Cgroup) apply(settings []Setting) error {
	settings = c.memswOrder(settings)
	for _, s := range settings {
		d, _ := c.dir(s.Controller)
		if s.Devices != nil {
			if err := c.attachDevices(d, s.Devices); err != nil {
				return fmt.Errorf("%s: %w", s.Flag, err)
			}
			continue
		}
		if s.Ignored {
			c.log.Note("%s: cgroup v2 has no %s; ignored, as runc does", s.Flag, s.File)
			continue
		}
		f := filepath.Join(d, s.File)
		// A weight goes to BFQ's own file when the bfq scheduler is loaded, as
		// runc does: v2's io.weight is io.cost's, which BFQ does not read,
		// and v1 has only blkio.bfq.weight since CFQ left (Linux 5.0).
		if bfq := filepath.Join(d, strings.Replace(s.File, "weight", "bfq.weight", 1)); s.BFQ != "" && bfq != f {
			if _, err := os.Stat(bfq); err == nil {
				f, s.Value = bfq, s.BFQ
			}
		}
		if _, err := os.Stat(f); err != nil && s.Optional {
			c.log.Note("%s is missing%s: %s is not applied", f, hint(s, os.ErrNotExist), s.Flag)
			continue
		}
		if err := c.write(f, s.Value); err != nil {
			return fmt.Errorf("%s: %w%s", s.Flag, err, hint(s, err))
		}
	}
	return nil
}

// memswOrder puts the v1 memory+swap limit before the memory limit when the
// new memory limit is above the current memory+swap limit: v1 insists that
// memory.limit_in_bytes ≤ memory.memsw.limit_in_bytes after every write.
func (c *Cgroup) memswOrder(ss []Setting) []Setting {
	li, si := -1, -1
	for i, s := range ss {
		switch s.File {
		case "memory.limit_in_bytes":
			li = i
		case "memory.memsw.limit_in_bytes":
			si = i
		}
	}
	if li < 0 || si < 0 || si < li {
		return ss
	}
	d, _ := c.dir("memory")
	cur, err := os.ReadFile(filepath.Join(d, "memory.memsw.limit_in_bytes"))
	if err != nil {
		return ss
	}
	now, _ := strconv.ParseInt(strings.TrimSpace(string(cur)), 10, 64)
	want, _ := strconv.ParseInt(ss[li].Value, 10, 64)
	if want <= now {
		return ss
	}
	out := append([]Setting(nil), ss...)
	out[li], out[si] = out[si], out[li]
	return out
}

// hint explains the common reasons a limit write fails.
func hint(s Setting, err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist) && strings.Contains(s.File, "memsw"):
		return " (the kernel does not account swap: boot it with swapaccount=1)"
	case errors.Is(err, os.ErrNotExist) && strings.Contains(s.File, "swap"):
		return " (the kernel was built without swap accounting, CONFIG_MEMCG_SWAP)"
	case errors.Is(err, os.ErrNotExist) && strings.Contains(s.File, "weight") && s.Controller == "io":
		return " (I/O weights need the BFQ scheduler: echo bfq > /sys/block/DEV/queue/scheduler)"
	case errors.Is(err, os.ErrNotExist):
		return " (this kernel has no such file)"
	case errors.Is(err, unix.EBUSY) && s.Controller == "memory":
		return " (the cgroup already uses more memory than that)"
	case errors.Is(err, unix.EINVAL) && s.Controller == "cpuset":
		return " (it must be within the parent's " + s.File + ")"
	case errors.Is(err, unix.EINVAL) && s.Controller == "cpu":
		return " (a child's CPU quota may not exceed its parent's)"
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return " (needs root)"
	}
	return ""
}

// write writes one value into one cgroup file, as `echo VALUE > FILE` does.
func (c *Cgroup) write(file, value string) error {
	c.log.Step(fmt.Sprintf("write(%q, %q)", file, value), fmt.Sprintf("echo %s > %s", explain.Quote(value), explain.Quote(file)))
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", value, file, err)
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", value, file, err)
	}
	return nil
}
