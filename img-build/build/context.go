package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"ctrkit/img-build/dockerfile"
)

// Load reads what a build starts from: the context directory (made
// absolute), its Dockerfile (file, or CONTEXT/Dockerfile when file is
// "") and its .dockerignore, when there is one.
func Load(context, file string) (dir string, df *dockerfile.Dockerfile, ign *Ignore, err error) {
	dir, err = filepath.Abs(context)
	if err != nil {
		return "", nil, nil, err
	}
	if file == "" {
		file = filepath.Join(dir, "Dockerfile")
	}
	f, err := os.Open(file)
	if err != nil {
		return "", nil, nil, fmt.Errorf("open the Dockerfile: %w (give one with -f FILE)", err)
	}
	df, err = dockerfile.Parse(f, file)
	f.Close()
	if err != nil {
		return "", nil, nil, err
	}
	igf, err := os.Open(filepath.Join(dir, ".dockerignore"))
	if errors.Is(err, fs.ErrNotExist) {
		return dir, df, nil, nil
	}
	if err == nil {
		ign, err = ParseIgnore(igf)
		igf.Close()
	}
	if err != nil {
		return "", nil, nil, fmt.Errorf("read .dockerignore: %w", err)
	}
	return dir, df, ign, nil
}
