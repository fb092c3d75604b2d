package engine

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"time"

	"ctrkit/ctr-run/lifecycle"
	"ctrkit/internal/explain"
	"ctrkit/internal/store"
)

// command is a ctrkit command the daemon runs for a request, printed by
// --explain the way a user would type it.
func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(lifecycle.Bin(name), args...)
	cmd.Env = s.env()
	s.log.Step(fmt.Sprintf("fork(); execve(%q)", cmd.Path), explain.Join(append([]string{name}, args...)))
	return cmd
}

// run runs a ctrkit command to its end; its stderr becomes the error.
func (s *Server) run(name string, args ...string) ([]byte, error) {
	cmd := s.command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s: %s", explain.Join(append([]string{name}, args...)), strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func (s *Server) store() (*store.Store, error) { return store.Open(s.Root) }

// image finds an image by name or id (its config digest, as docker's ids).
func (s *Server) image(ref string) (*store.Image, error) {
	st, err := s.store()
	if err != nil {
		return nil, err
	}
	img, err := st.Resolve(ref)
	if err == nil {
		return img, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, errf(http.StatusBadRequest, "invalid reference format: %v", err)
	}
	// An id: the config digest, whole or a prefix of at least 12 digits.
	id := strings.TrimPrefix(ref, "sha256:")
	if len(id) >= 12 {
		es, _ := st.List()
		for _, e := range es {
			if img, err := st.Resolve(e.Name); err == nil && strings.HasPrefix(img.Manifest.Config.Digest.Hex, id) {
				return img, nil
			}
		}
	}
	return nil, errf(http.StatusNotFound, "no such image: %s (docker images lists them; docker pull %s fetches it)", ref, ref)
}

// images groups the store's names by image id.
func (s *Server) images() (map[string][]*store.Image, error) {
	st, err := s.store()
	if err != nil {
		return nil, err
	}
	es, err := st.List()
	if err != nil {
		return nil, err
	}
	byID := map[string][]*store.Image{}
	for _, e := range es {
		img, err := st.Resolve(e.Name)
		if err != nil {
			continue
		}
		id := img.Manifest.Config.Digest.String()
		byID[id] = append(byID[id], img)
	}
	return byID, nil
}

func imageSize(img *store.Image) int64 {
	var n int64
	for _, l := range img.Manifest.Layers {
		n += l.Size
	}
	return n
}

func repoDigest(img *store.Image) string {
	name := store.ShortName(img.Name)
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	return name + "@" + img.Descriptor.Digest.String()
}

func (s *Server) imageList(w http.ResponseWriter, r *http.Request) error {
	byID, err := s.images()
	if err != nil {
		return err
	}
	out := []imageSummary{}
	for id, imgs := range byID {
		sum := imageSummary{ID: id, Containers: -1, SharedSize: -1, RepoTags: []string{}, RepoDigests: []string{}, Labels: map[string]string{}}
		for _, img := range imgs {
			sum.RepoTags = append(sum.RepoTags, store.ShortName(img.Name))
			sum.RepoDigests = append(sum.RepoDigests, repoDigest(img))
			sum.Created = img.Config.Created.Unix()
			sum.Size = imageSize(img)
			if img.Config.Config.Labels != nil {
				sum.Labels = img.Config.Config.Labels
			}
		}
		sum.VirtualSize = sum.Size
		sort.Strings(sum.RepoTags)
		out = append(out, sum)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created > out[j].Created })
	return writeJSON(w, http.StatusOK, out)
}

// imageGet is GET /images/NAME/json (NAME may hold slashes).
func (s *Server) imageGet(w http.ResponseWriter, r *http.Request) error {
	rest := r.PathValue("rest")
	name, ok := strings.CutSuffix(rest, "/json")
	if !ok {
		if name, ok = strings.CutSuffix(rest, "/history"); ok {
			img, err := s.image(name)
			if err != nil {
				return err
			}
			return writeJSON(w, http.StatusOK, []map[string]any{{"Id": img.Manifest.Config.Digest.String(), "Created": img.Config.Created.Unix(), "CreatedBy": "", "Size": imageSize(img), "Tags": []string{store.ShortName(img.Name)}}})
		}
		return errf(http.StatusNotFound, "page not found: GET /images/%s", rest)
	}
	img, err := s.image(name)
	if err != nil {
		return err
	}
	byID, _ := s.images()
	id := img.Manifest.Config.Digest.String()
	tags, digests := []string{}, []string{}
	for _, other := range byID[id] {
		tags = append(tags, store.ShortName(other.Name))
		digests = append(digests, repoDigest(other))
	}
	c := img.Config.Config
	diffs := []string{}
	for _, d := range img.Config.RootFS.DiffIDs {
		diffs = append(diffs, d.String())
	}
	ports := map[string]struct{}{}
	for p := range c.ExposedPorts {
		ports[p] = struct{}{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"Id": id, "RepoTags": tags, "RepoDigests": digests, "Parent": "", "Comment": "",
		"Created": img.Config.Created.Format(time.RFC3339Nano), "DockerVersion": "", "Author": img.Config.Author,
		"Config": map[string]any{"Cmd": c.Cmd, "Entrypoint": c.Entrypoint, "Env": c.Env, "WorkingDir": c.WorkingDir,
			"User": c.User, "Labels": c.Labels, "ExposedPorts": ports, "Volumes": c.Volumes, "StopSignal": c.StopSignal},
		"Architecture": img.Config.Architecture, "Os": img.Config.OS, "Size": imageSize(img), "VirtualSize": imageSize(img),
		"GraphDriver": map[string]any{"Name": "overlay", "Data": map[string]string{}},
		"RootFS":      map[string]any{"Type": "layers", "Layers": diffs}, "Metadata": map[string]any{},
	})
}

// imagePull is POST /images/create?fromImage=NAME&tag=TAG: img-pull, its
// progress lines sent on as docker's JSON progress messages.
func (s *Server) imagePull(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	ref := q.Get("fromImage")
	if ref == "" {
		return errf(http.StatusNotImplemented, "only pulls (fromImage=NAME) are served: import (fromSrc) is img-pull import")
	}
	if tag := q.Get("tag"); tag != "" {
		if strings.HasPrefix(tag, "sha256:") {
			ref += "@" + tag
		} else {
			ref += ":" + tag
		}
	}
	if _, err := store.Normalize(ref); err != nil {
		return errf(http.StatusBadRequest, "invalid reference format: %q: %v", ref, err)
	}
	cmd := s.command("img-pull", "--print", "digest", ref)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	enc.Encode(map[string]string{"status": "Pulling " + ref + " with img-pull"})
	flush()
	var last string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		for _, line := range strings.Split(sc.Text(), "\r") {
			if line = strings.TrimSpace(line); line != "" {
				last = line
				enc.Encode(map[string]string{"status": line})
				flush()
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		msg := fmt.Sprintf("img-pull %s failed (%v): %s", ref, err, last)
		return enc.Encode(map[string]any{"error": msg, "errorDetail": map[string]string{"message": msg}})
	}
	img, err := s.image(ref)
	if err != nil {
		return enc.Encode(map[string]any{"error": err.Error(), "errorDetail": map[string]string{"message": err.Error()}})
	}
	enc.Encode(map[string]string{"status": "Digest: " + img.Descriptor.Digest.String()})
	return enc.Encode(map[string]string{"status": "Status: Downloaded newer image for " + store.ShortName(img.Name)})
}

// imagePost is POST /images/NAME/tag and /images/NAME/push.
func (s *Server) imagePost(w http.ResponseWriter, r *http.Request) error {
	rest := r.PathValue("rest")
	q := r.URL.Query()
	if name, ok := strings.CutSuffix(rest, "/tag"); ok {
		img, err := s.image(name)
		if err != nil {
			return err
		}
		to := q.Get("repo")
		if t := q.Get("tag"); t != "" {
			to += ":" + t
		}
		full, err := store.Normalize(to)
		if err != nil {
			return errf(http.StatusBadRequest, "invalid reference format: %q: %v", to, err)
		}
		st, err := s.store()
		if err != nil {
			return err
		}
		s.log.Note("tag: index.json gets %s -> %s", full, img.Descriptor.Digest)
		if err := st.Tag(full, img.Descriptor); err != nil {
			return err
		}
		w.WriteHeader(http.StatusCreated)
		return nil
	}
	if name, ok := strings.CutSuffix(rest, "/push"); ok {
		if t := q.Get("tag"); t != "" {
			name += ":" + t
		}
		if _, err := s.image(name); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		out, err := s.run("img-build", "push", name)
		if err != nil {
			w.WriteHeader(http.StatusOK)
			return enc.Encode(map[string]any{"error": err.Error(), "errorDetail": map[string]string{"message": err.Error()}})
		}
		w.WriteHeader(http.StatusOK)
		enc.Encode(map[string]string{"status": strings.TrimSpace(string(out))})
		return enc.Encode(map[string]any{"status": "pushed " + name})
	}
	return errf(http.StatusNotFound, "page not found: POST /images/%s", rest)
}

// imageRemove is DELETE /images/NAME: img-pull rm, refused (409) while a
// container uses the image, unless force.
func (s *Server) imageRemove(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("rest")
	img, err := s.image(name)
	if err != nil {
		return err
	}
	if !boolParam(r, "force") {
		cs, _ := lifecycle.List(s.State)
		for _, c := range cs {
			if full, err := store.Normalize(c.Image); err == nil && full == img.Name {
				return errf(http.StatusConflict, "conflict: unable to remove repository reference %q (must force): container %s is using it (docker rm %s first)", name, c.ID, c.ID)
			}
		}
	}
	if _, err := s.run("img-pull", "rm", img.Name); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, []map[string]string{{"Untagged": store.ShortName(img.Name)}})
}
