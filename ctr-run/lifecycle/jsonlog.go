package lifecycle

// The log's format is docker's json-file driver's: one JSON object a line,
// {"log":"the line\n","stream":"stdout","time":"2026-11-30T04:20:00.123456789Z"},
// so `logs` can say which stream a line came from (docker logs writes a
// container's stderr to its own stderr) and when (docker logs -t). A line
// longer than 16 KiB is cut into records, as docker cuts it; a last line
// without a newline is written when the container ends. A line that is
// not such a record (a log from before this format) reads as stdout.

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
	"time"
)

// maxRecord is where docker's json-file driver cuts a long line.
const maxRecord = 16 << 10

type record struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// Stream is a writer for one of the container's streams ("stdout",
// "stderr") that turns what it is given into records of the log. Close
// writes a last line that has no newline.
func (w *RotatingLog) Stream(name string) io.WriteCloser {
	return &streamWriter{log: w, name: name}
}

type streamWriter struct {
	log  *RotatingLog
	name string
	mu   sync.Mutex
	buf  []byte
}

func (s *streamWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p...)
	for {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 && len(s.buf) < maxRecord {
			return len(p), nil
		}
		n := min(i+1, maxRecord)
		if i < 0 {
			n = maxRecord
		}
		if err := s.emit(s.buf[:n]); err != nil {
			return 0, err
		}
		s.buf = s.buf[n:]
	}
}

func (s *streamWriter) emit(line []byte) error {
	data, err := json.Marshal(record{Log: string(line), Stream: s.name, Time: time.Now().UTC()})
	if err != nil {
		return err
	}
	_, err = s.log.Write(append(data, '\n'))
	return err
}

func (s *streamWriter) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buf) == 0 {
		return nil
	}
	err := s.emit(s.buf)
	s.buf = nil
	return err
}

// LogSink receives the log's lines, decoded: the stream, when it was
// written (zero for an old log), and the line itself.
type LogSink func(stream string, t time.Time, line []byte) error

// logDecoder is the io.Writer the log is copied into: it splits it into
// records, across partial writes, and hands each line to the sink.
type logDecoder struct {
	sink LogSink
	buf  []byte
}

func (d *logDecoder) Write(p []byte) (int, error) {
	d.buf = append(d.buf, p...)
	for {
		i := bytes.IndexByte(d.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := d.buf[:i+1]
		var r record
		var err error
		if json.Unmarshal(line, &r) == nil && r.Stream != "" {
			err = d.sink(r.Stream, r.Time, []byte(r.Log))
		} else {
			err = d.sink("stdout", time.Time{}, line)
		}
		d.buf = d.buf[i+1:]
		if err != nil {
			return 0, err
		}
	}
}
