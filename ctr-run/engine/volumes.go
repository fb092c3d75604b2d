package engine

import (
	"net/http"
	"strings"
	"time"

	"ctrkit/fs-layer/volume"
)

// Volumes are fs-layer's named volumes (ROOT/volumes/NAME/_data): listed
// from there, made and removed by `fs-layer volume create/rm`.

func volumeJSON(v *volume.Volume) map[string]any {
	return map[string]any{"Name": v.Name, "Driver": "local", "Mountpoint": v.Mountpoint, "Scope": "local",
		"CreatedAt": v.Created.UTC().Format(time.RFC3339), "Labels": map[string]string{}, "Options": map[string]string{}}
}

func (s *Server) volumeList(w http.ResponseWriter, r *http.Request) error {
	vs, err := volume.List(s.Root)
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for _, v := range vs {
		out = append(out, volumeJSON(v))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"Volumes": out, "Warnings": []string{}})
}

func (s *Server) volumeCreate(w http.ResponseWriter, r *http.Request) error {
	var body struct{ Name, Driver string }
	if err := readJSON(r, &body); err != nil {
		return err
	}
	if body.Name == "" {
		return errf(http.StatusBadRequest, "field \"Name\" is empty: ctrkit names every volume (docker volume create NAME)")
	}
	if body.Driver != "" && body.Driver != "local" {
		return errf(http.StatusBadRequest, "volume driver %q: ctrkit has only local", body.Driver)
	}
	if _, err := s.run("fs-layer", "volume", "create", body.Name); err != nil {
		return errf(http.StatusBadRequest, "%v", err)
	}
	v, err := volume.Inspect(s.Root, body.Name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, volumeJSON(v))
}

func (s *Server) volumeRemove(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if _, err := volume.Inspect(s.Root, name); err != nil {
		return errf(http.StatusNotFound, "get %s: no such volume", name)
	}
	if _, err := s.run("fs-layer", "volume", "rm", name); err != nil {
		if strings.Contains(err.Error(), "used by") {
			return errf(http.StatusConflict, "remove %s: volume is in use: %v", name, err)
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
