package engine

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Volumes are fs-layer's named volumes (ROOT/volumes/NAME/_data), listed,
// made, shown and removed by running `fs-layer volume ls/create/inspect/rm`:
// ctr-run composes fs-layer by running it, never by importing it.

// volume is what `fs-layer volume inspect` prints.
type volume struct {
	Name       string    `json:"name"`
	Mountpoint string    `json:"mountpoint"`
	Created    time.Time `json:"created"`
}

func volumeJSON(v volume) map[string]any {
	return map[string]any{"Name": v.Name, "Driver": "local", "Mountpoint": v.Mountpoint, "Scope": "local",
		"CreatedAt": v.Created.UTC().Format(time.RFC3339), "Labels": map[string]string{}, "Options": map[string]string{}}
}

// inspectVolume runs fs-layer volume inspect NAME; ok is false when there
// is no such volume.
func (s *Server) inspectVolume(name string) (v volume, ok bool, err error) {
	out, err := s.run("fs-layer", "volume", "inspect", name)
	if err != nil {
		return v, false, nil
	}
	return v, true, json.Unmarshal(out, &v)
}

func (s *Server) volumeList(w http.ResponseWriter, r *http.Request) error {
	data, err := s.run("fs-layer", "volume", "ls", "--format", "json")
	if err != nil {
		return err
	}
	var vs []volume
	if err := json.Unmarshal(data, &vs); err != nil {
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
	v, _, err := s.inspectVolume(body.Name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, volumeJSON(v))
}

func (s *Server) volumeRemove(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if _, ok, _ := s.inspectVolume(name); !ok {
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
