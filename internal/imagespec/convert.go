// Package imagespec is the one place where an image's config becomes a
// runtime spec: docker's and the OCI image-spec's conversion rules
// (ENTRYPOINT + CMD, Env, WorkingDir, USER, labels…), the command-line
// rule that puts a new CMD after the image's ENTRYPOINT, and USER turned
// into the uid, gid and supplementary groups a process runs as.
//
// img-pull converts a config it pulled (ToSpec), img-build the config it is
// building, ctr-run applies docker's command rule (Command), and fs-layer,
// which holds the container's root filesystem, resolves USER against the
// image's own /etc/passwd and /etc/group (Resolve). Each used to carry its
// own copy of a part of this, and the copies disagreed: a numeric USER got
// group 0 in one and its own number as group in another, and none looked
// up the supplementary groups docker gives.
package imagespec

import (
	"encoding/json"
	"sort"
	"strings"

	"ctrkit/internal/spec"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ToSpec fills doc (a new one when nil) from the image config, following
// the OCI image-spec's conversion rules (image-spec conversion.md):
//
//	Entrypoint + Cmd     → process.args (Entrypoint first); Entrypoint
//	                       also as annotation ctrkit.image.entrypoint, so
//	                       ctr-run can put a new CMD after it
//	Env                  → process.env (image values replace same-named ones)
//	WorkingDir           → process.cwd ("/" when empty)
//	User                 → annotation ctrkit.image.user, which fs-layer
//	                       resolves against the image's /etc/passwd (see
//	                       Resolve); "uid[:gid]" also → process.user now,
//	                       for a pipeline that mounts no image
//	ExposedPorts         → annotation org.opencontainers.image.exposedPorts
//	StopSignal           → annotation org.opencontainers.image.stopSignal
//	Labels               → annotations
//	Volumes              → annotation ctrkit.image.volumes
//	os, architecture     → annotations org.opencontainers.image.os/.architecture
//
// The image itself is named in the annotations
// org.opencontainers.image.ref.name (its full name) and
// org.opencontainers.image.manifest.digest (its manifest digest), for
// fs-layer to find its layers in the store.
func ToSpec(doc *specs.Spec, fullName string, manifest v1.Descriptor, cfg *v1.ConfigFile) *specs.Spec {
	if doc == nil || doc.Process == nil {
		// A document that describes no process yet (none, or only a seed
		// naming the container) starts from the container defaults of
		// runc spec: /proc, /dev, /sys, capabilities, masked paths.
		base := spec.Default("", nil)
		if doc != nil {
			base.Annotations = doc.Annotations
		}
		doc = base
	}
	if doc.Annotations == nil {
		doc.Annotations = map[string]string{}
	}
	c := cfg.Config
	p := doc.Process
	if args := append(append([]string{}, c.Entrypoint...), c.Cmd...); len(args) > 0 {
		p.Args = args
	}
	p.Env = mergeEnv(p.Env, c.Env)
	p.Cwd = c.WorkingDir
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	SetUser(doc, c.User)
	a := doc.Annotations
	if len(c.Entrypoint) > 0 {
		ep, _ := json.Marshal(c.Entrypoint)
		a[spec.ImageEntrypointAnnotation] = string(ep)
	}
	for k, v := range c.Labels {
		a[k] = v
	}
	if len(c.ExposedPorts) > 0 {
		a["org.opencontainers.image.exposedPorts"] = strings.Join(sortedKeys(c.ExposedPorts), ",")
	}
	if len(c.Volumes) > 0 {
		a[spec.ImageVolumesAnnotation] = strings.Join(sortedKeys(c.Volumes), ",")
	}
	if c.StopSignal != "" {
		a["org.opencontainers.image.stopSignal"] = c.StopSignal
	}
	if cfg.OS != "" {
		a["org.opencontainers.image.os"] = cfg.OS
	}
	if cfg.Architecture != "" {
		a["org.opencontainers.image.architecture"] = cfg.Architecture
	}
	if cfg.Author != "" {
		a["org.opencontainers.image.author"] = cfg.Author
	}
	if !cfg.Created.IsZero() {
		a["org.opencontainers.image.created"] = cfg.Created.UTC().Format("2006-01-02T15:04:05Z")
	}
	a[spec.ImageNameAnnotation] = fullName
	a[spec.ImageDigestAnnotation] = manifest.Digest.String()
	return doc
}

// mergeEnv returns base with the image's variables; the image wins for a
// name both have.
func mergeEnv(base, image []string) []string {
	out := []string{}
	seen := map[string]int{}
	for _, kv := range append(append([]string{}, base...), image...) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := seen[k]; ok {
			out[i] = kv
			continue
		}
		seen[k] = len(out)
		out = append(out, kv)
	}
	if _, ok := seen["PATH"]; !ok {
		out = append(out, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	return out
}

func sortedKeys(m map[string]struct{}) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// SetUser records USER (an image's, a Dockerfile's) for fs-layer to resolve
// against the image's files, and sets process.user now when USER is numbers
// only: "uid" runs with group 0 until resolved, as docker does for a uid
// the image's /etc/passwd does not list.
func SetUser(doc *specs.Spec, user string) {
	if user == "" {
		return
	}
	if doc.Annotations == nil {
		doc.Annotations = map[string]string{}
	}
	doc.Annotations[spec.ImageUserAnnotation] = user
	if uid, gid, ok := Numeric(user); ok {
		if doc.Process == nil {
			doc.Process = &specs.Process{}
		}
		doc.Process.User.UID, doc.Process.User.GID = uid, gid
	}
}
