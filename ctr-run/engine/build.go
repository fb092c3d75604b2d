package engine

import (
	"archive/tar"
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// imageBuild is POST /build: the body is the context as a tar stream
// (what docker build sends), unpacked into a temporary directory that
// img-build builds; its output is sent on as {"stream": …} lines.
func (s *Server) imageBuild(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Get("remote") != "" {
		return errf(http.StatusNotImplemented, "build from a remote context: give a directory (docker build DIR)")
	}
	dir, err := os.MkdirTemp("", "ctrkit-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := untar(r.Body, dir); err != nil {
		return errf(http.StatusBadRequest, "the build context: %v", err)
	}
	args := []string{dir}
	if f := q.Get("dockerfile"); f != "" {
		args = append(args, "-f", filepath.Join(dir, filepath.Clean("/"+f)))
	}
	for _, t := range q["t"] {
		args = append(args, "-t", t)
	}
	if q.Get("nocache") == "1" || q.Get("nocache") == "true" {
		args = append(args, "--no-cache")
	}
	if raw := q.Get("buildargs"); raw != "" {
		var ba map[string]*string
		if err := json.Unmarshal([]byte(raw), &ba); err != nil {
			return errf(http.StatusBadRequest, "invalid buildargs %q: %v", raw, err)
		}
		for k, v := range ba {
			if v != nil {
				args = append(args, "--build-arg", k+"="+*v)
			}
		}
	}
	cmd := s.command("img-build", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(flushWriter{w})
	var last string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		last = sc.Text()
		enc.Encode(map[string]string{"stream": last + "\n"})
	}
	if err := cmd.Wait(); err != nil {
		msg := fmt.Sprintf("img-build failed (%v): %s", err, last)
		return enc.Encode(map[string]any{"error": msg, "errorDetail": map[string]string{"message": msg}})
	}
	return nil
}

// untar unpacks a build context; names that would leave dir are refused.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Join(dir, filepath.Clean("/"+h.Name))
		if !strings.HasPrefix(name, dir+"/") && name != dir {
			return fmt.Errorf("%q leaves the context", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(name, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o7777)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			f.Close()
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, name); err != nil {
				return err
			}
		}
	}
}
