package lifecycle

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// LogOpts bound a detached container's log, as docker's --log-opt
// max-size and max-file do for its json-file driver: STATE/ID/log grows to
// MaxSize, then becomes log.1 (log.1 becomes log.2, …) and a new log
// starts; at most MaxFiles files are kept, the oldest dropped. STATE is
// /run, a tmpfs: a log there is RAM, so there is always a bound. Without
// options it is docker's "local" driver's: 20 MB × 5 files.
type LogOpts struct {
	MaxSize  int64 `json:"maxSize"`
	MaxFiles int   `json:"maxFiles"`
}

// DefaultLog is the bound without --log-opt (docker's local driver).
var DefaultLog = LogOpts{MaxSize: 20 << 20, MaxFiles: 5}

// ParseLogOpts reads --log-opt KEY=VALUE values.
func ParseLogOpts(opts []string) (LogOpts, error) {
	l := DefaultLog
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "max-size":
			n, err := parseSize(v)
			if err != nil || n <= 0 {
				return l, fmt.Errorf("--log-opt %q: want a size such as 10m (k, m, g suffixes)", o)
			}
			l.MaxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return l, fmt.Errorf("--log-opt %q: want a number of files ≥ 1", o)
			}
			l.MaxFiles = n
		default:
			return l, fmt.Errorf("--log-opt %q: ctrkit knows max-size=SIZE and max-file=N", o)
		}
	}
	return l, nil
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch strings.ToLower(s[len(s)-min(1, len(s)):]) {
	case "k":
		mult = 1 << 10
	case "m":
		mult = 1 << 20
	case "g":
		mult = 1 << 30
	}
	if mult > 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n * mult, err
}

// RotatingLog is the writer the supervisor gives the container as stdout
// and stderr (through a pipe, which os/exec copies from).
type RotatingLog struct {
	path string
	opts LogOpts
	mu   sync.Mutex
	f    *os.File
	size int64
}

// OpenLog opens (appends to) path with the bound opts; zero opts are the
// default bound.
func OpenLog(path string, opts LogOpts) (*RotatingLog, error) {
	if opts.MaxSize <= 0 || opts.MaxFiles <= 0 {
		opts = DefaultLog
	}
	w := &RotatingLog{path: path, opts: opts}
	return w, w.open()
}

func (w *RotatingLog) open() error {
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	w.f, w.size = f, fi.Size()
	return nil
}

func (w *RotatingLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.size > 0 && w.size+int64(len(p)) > w.opts.MaxSize {
		if err := w.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := w.f.Write(p)
	w.size += int64(n)
	return n, err
}

// rotate: log.N-2 → log.N-1, …, log → log.1, a new log (N = MaxFiles; with
// one file, the log starts again empty).
func (w *RotatingLog) rotate() error {
	w.f.Close()
	if w.opts.MaxFiles == 1 {
		os.Remove(w.path)
	}
	for i := w.opts.MaxFiles - 1; i >= 1; i-- {
		from := w.path
		if i > 1 {
			from = w.path + "." + strconv.Itoa(i-1)
		}
		if err := os.Rename(from, w.path+"."+strconv.Itoa(i)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return w.open()
}

func (w *RotatingLog) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Close()
}

// Logs copies the container's output to w, both streams, oldest rotated
// file first; with follow, it keeps copying until the container has ended.
func (c *Container) Logs(w io.Writer, follow bool) error {
	return c.ReadLogs(follow, nil, func(_ string, _ time.Time, line []byte) error {
		_, err := w.Write(line)
		return err
	})
}

// ReadLogs hands the container's log to sink a line at a time, oldest
// rotated file first; with follow, it keeps reading until the container
// has ended (or stop is closed), moving to the new log when the
// supervisor rotates it.
func (c *Container) ReadLogs(follow bool, stop <-chan struct{}, sink LogSink) error {
	w := &logDecoder{sink: sink}
	path := c.Path("log")
	files, err := newerLogs(path, 0)
	if os.IsNotExist(err) {
		return fmt.Errorf("container %s has no log: only detached containers (-d) keep one", c.Name)
	}
	if err != nil {
		return err
	}
	f, err := copyAllButLast(w, files)
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	for {
		if _, err := io.Copy(w, f); err != nil {
			return err
		}
		if !follow {
			return nil
		}
		if ino := inode(f); ino != inode(path) && inode(path) != 0 {
			io.Copy(w, f) // the end of the file that became log.1 (or log.K)
			files, err := newerLogs(path, ino)
			if err != nil {
				continue // renamed away since: try again
			}
			f.Close()
			if f, err = copyAllButLast(w, files); err != nil {
				return err
			}
			continue
		}
		// Ended, and whoever runs it (a supervisor, or ctr-run serve,
		// which may be the caller) is done writing.
		if _, err := os.Stat(c.Dir); err != nil {
			_, err := io.Copy(w, f) // removed (--rm): the rest of the open file
			return err
		}
		if sup := c.readID("supervisor"); c.Exited() && c.PID() == 0 && !c.has("restarting") && (sup.PID == os.Getpid() || !sup.Alive()) {
			_, err := io.Copy(w, f) // what came in meanwhile
			return err
		}
		select {
		case <-stop:
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// newerLogs opens the log's files written after the one with inode ino
// (every one for 0), oldest first: log.K-1 … log.1, log when that file is
// log.K now. A rotation renames every file, so the names are read twice
// and must name the same files both times: a rotation while they are
// opened would make a follower skip a file or read one twice. Not found as
// log.1 … log.64, the file was dropped and every file left is newer. The
// newest may be log.1, between a rotation's rename and its new log; none
// at all is an IsNotExist error. A log that rotates faster than its names
// can be read twice (--log-opt max-size=1 and a busy container) gets the
// hundredth list as it is, so a follower never stops for it.
func newerLogs(path string, ino uint64) ([]*os.File, error) {
	name := func(i int) string {
		if i == 0 {
			return path
		}
		return path + "." + strconv.Itoa(i)
	}
	for try := 1; ; try++ {
		var files []*os.File // newest first
		var at []int         // the name each was opened as
		for i := 0; i <= 64; i++ {
			f, err := os.Open(name(i))
			if err != nil {
				continue // none, or a rotation between two renames
			}
			if inode(f) == ino {
				f.Close()
				break
			}
			files, at = append(files, f), append(at, i)
		}
		same := true
		for j, f := range files {
			same = same && inode(name(at[j])) == inode(f)
		}
		if !same && try < 100 {
			for _, f := range files {
				f.Close()
			}
			time.Sleep(time.Millisecond) // let the rotation finish
			continue
		}
		if len(files) == 0 {
			return nil, os.ErrNotExist
		}
		slices.Reverse(files)
		return files, nil
	}
}

// copyAllButLast copies every file but the last into w and closes it, and
// returns the last one, the log, for following.
func copyAllButLast(w io.Writer, files []*os.File) (*os.File, error) {
	last := files[len(files)-1]
	for _, f := range files[:len(files)-1] {
		_, err := io.Copy(w, f)
		f.Close()
		if err != nil {
			last.Close()
			return nil, err
		}
	}
	return last, nil
}

// inode is the inode number of a file or path, 0 when there is none.
func inode(f any) uint64 {
	var fi os.FileInfo
	var err error
	switch f := f.(type) {
	case *os.File:
		fi, err = f.Stat()
	case string:
		fi, err = os.Stat(f)
	}
	if err != nil {
		return 0
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}
