package netcfg

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ctrkit/internal/explain"
)

// Sysctl reads /proc/sys/KEY (key with slashes, e.g.
// "net/ipv4/ip_forward"). Under /proc/sys/net the values are those of the
// reader's network namespace.
//
// Equivalent to: `sysctl -n KEY`.
func Sysctl(key string) (string, error) {
	b, err := os.ReadFile(filepath.Join("/proc/sys", key))
	return strings.TrimSpace(string(b)), err
}

// SetSysctl writes value to /proc/sys/KEY when it differs, and reports
// whether it changed anything.
//
// Equivalent to: `sysctl -w KEY=VALUE`.
func SetSysctl(log *explain.Log, key, value string) (bool, error) {
	cur, err := Sysctl(key)
	if err != nil {
		return false, fmt.Errorf("read /proc/sys/%s: %w", key, err)
	}
	if cur == value {
		return false, nil
	}
	path := filepath.Join("/proc/sys", key)
	log.Step(fmt.Sprintf("write(%q, %q)", path, value), fmt.Sprintf("sysctl -w %s=%s", strings.ReplaceAll(key, "/", "."), value))
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return false, fmt.Errorf("write %q to %s: %w", value, path, hint(err))
	}
	return true, nil
}
