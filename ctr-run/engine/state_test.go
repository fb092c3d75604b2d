package engine

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"ctrkit/ctr-run/lifecycle"
	"ctrkit/internal/fsutil"
	"ctrkit/internal/proc"
)

// These tests answer Engine API requests about containers whose state is
// written by hand, as ctr-run's supervisor writes it, around a real
// process (a sleep) that plays the running container's.

func call(t *testing.T, s *Server, method, path, body string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	return rec.Code, rec.Body.String()
}

func put(t *testing.T, c *lifecycle.Container, name, data string) {
	t.Helper()
	if err := fsutil.WriteFile(c.Path(name), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// testState makes web (running a sleep, with a log), old (exited 3) and
// fresh (created), oldest first.
func testState(t *testing.T) (*Server, *exec.Cmd) {
	t.Helper()
	state := t.TempDir()
	s := New(t.TempDir(), state, "ctr-run", false, &bytes.Buffer{})
	mk := func(id, name string, cmd ...string) *lifecycle.Container {
		c, err := lifecycle.New(state, lifecycle.Meta{ID: id, Name: name, Image: "docker.io/library/alpine:3", Command: cmd, Created: time.Now().UTC(),
			NsEnter: []string{"--spec", "x", "-t", "--", "sh"}})
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(c.Path("creator"))
		time.Sleep(2 * time.Millisecond)
		return c
	}
	web := mk("aaa111", "web", "sleep", "30")
	sleep := exec.Command("sleep", "30")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	id, _ := proc.Of(sleep.Process.Pid)
	put(t, web, "pid", strconv.Itoa(sleep.Process.Pid)+"\n")
	put(t, web, "process", id.String()+"\n")
	put(t, web, "supervisor", proc.Self().String()+"\n")
	log, _ := lifecycle.OpenLog(web.Path("log"), lifecycle.LogOpts{})
	out, errs := log.Stream("stdout"), log.Stream("stderr")
	out.Write([]byte("hello\n"))
	errs.Write([]byte("oops\n"))
	out.Write([]byte("bye\n"))
	log.Close()
	old := mk("bbb222", "old", "false")
	put(t, old, "pid", "1\n")
	old.RecordExit(3)
	mk("ccc333", "fresh", "true")
	return s, sleep
}

func TestContainerListInspect(t *testing.T) {
	s, sleep := testState(t)
	code, body := call(t, s, "GET", "/v1.43/containers/json", "")
	var list []map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list) != 1 || list[0]["Id"] != "aaa111" || !strings.HasPrefix(list[0]["Status"].(string), "Up ") {
		t.Errorf("GET /containers/json = %d %s, want web only, up", code, body)
	}
	code, body = call(t, s, "GET", "/containers/json?all=1", "")
	if json.Unmarshal([]byte(body), &list); len(list) != 3 || list[0]["Id"] != "ccc333" || list[1]["Status"] != "Exited (3) Less than a second ago" || list[0]["Status"] != "Created" {
		t.Errorf("GET /containers/json?all=1 = %d %s, want fresh, old (exited 3), web", code, body)
	}
	for q, want := range map[string]int{`{"name":["old"]}`: 1, `{"name":{"web":true}}`: 1, `{"status":["exited"]}`: 1, `{"id":["zzz"]}`: 0} {
		_, body = call(t, s, "GET", "/containers/json?all=1&filters="+q, "")
		if json.Unmarshal([]byte(body), &list); len(list) != want {
			t.Errorf("filters=%s: %d containers, want %d (%s)", q, len(list), want, body)
		}
	}
	if code, _ := call(t, s, "GET", "/containers/json?filters={bad", ""); code != 400 {
		t.Errorf("filters={bad = %d, want 400", code)
	}

	code, body = call(t, s, "GET", "/containers/web/json", "")
	var c map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &c) != nil {
		t.Fatalf("inspect web = %d %s", code, body)
	}
	st := c["State"].(map[string]any)
	if c["Id"] != "aaa111" || c["Name"] != "/web" || st["Running"] != true || st["Pid"] != float64(sleep.Process.Pid) {
		t.Errorf("inspect web = %s", body)
	}
	if cfg := c["Config"].(map[string]any); cfg["Tty"] != true || cfg["Image"] != "docker.io/library/alpine:3" {
		t.Errorf("inspect web's Config = %v, want Tty from its ns-enter flags", cfg)
	}
	_, body = call(t, s, "GET", "/containers/bbb/json", "")
	if json.Unmarshal([]byte(body), &c); c["State"].(map[string]any)["ExitCode"] != float64(3) {
		t.Errorf("inspect old (by id prefix) = %s, want exit code 3", body)
	}

	code, body = call(t, s, "GET", "/info", "")
	var info map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &info) != nil || info["Containers"] != float64(3) || info["ContainersRunning"] != float64(1) {
		t.Errorf("GET /info = %d %s", code, body)
	}
	code, body = call(t, s, "GET", "/version", "")
	if code != 200 || !strings.Contains(body, `"ApiVersion":"1.43"`) {
		t.Errorf("GET /version = %d %s", code, body)
	}
	if code, body = call(t, s, "GET", "/networks", ""); code != 200 || !strings.Contains(body, `"Name":"bridge"`) {
		t.Errorf("GET /networks = %d %s", code, body)
	}
	if code, _ = call(t, s, "HEAD", "/_ping", ""); code != 200 {
		t.Errorf("HEAD /_ping = %d", code)
	}
}

func TestContainerLogs(t *testing.T) {
	s, _ := testState(t)
	code, body := call(t, s, "GET", "/v1.43/containers/web/logs?stdout=1&stderr=1", "")
	// web has a terminal (-t): the raw stream, no frames.
	if code != 200 || body != "hello\noops\nbye\n" {
		t.Errorf("logs web = %d %q", code, body)
	}
	if _, body = call(t, s, "GET", "/v1.43/containers/web/logs?stdout=1&tail=1", ""); body != "bye\n" {
		t.Errorf("logs web stdout, tail 1 = %q, want bye", body)
	}
	if code, _ = call(t, s, "GET", "/v1.43/containers/web/logs?tail=x", ""); code != 400 {
		t.Errorf("logs tail=x = %d, want 400", code)
	}
	if code, _ = call(t, s, "GET", "/v1.43/containers/nope/logs", ""); code != 404 {
		t.Errorf("logs of no container = %d, want 404", code)
	}
}

func TestContainerControl(t *testing.T) {
	s, sleep := testState(t)
	if code, body := call(t, s, "DELETE", "/containers/web", ""); code != 409 || !strings.Contains(body, "cannot remove a running container") {
		t.Errorf("DELETE running web = %d %s, want 409", code, body)
	}
	if code, body := call(t, s, "POST", "/containers/web/kill?signal=USR1", ""); code != 204 {
		t.Errorf("kill -s USR1 web = %d %s", code, body)
	}
	if err := sleep.Wait(); err == nil || !strings.Contains(err.Error(), "user defined signal 1") {
		t.Errorf("the sleep after kill USR1: %v", err)
	}
	if code, body := call(t, s, "POST", "/containers/old/kill", ""); code != 409 {
		t.Errorf("kill of an exited container = %d %s, want 409", code, body)
	}
	if code, body := call(t, s, "POST", "/containers/old/stop", ""); code != 304 {
		t.Errorf("stop of an exited container = %d %s, want 304 (not modified)", code, body)
	}
	if code, body := call(t, s, "DELETE", "/containers/old", ""); code != 204 {
		t.Errorf("DELETE old = %d %s", code, body)
	}
	if _, err := os.Stat(s.State + "/bbb222"); !os.IsNotExist(err) {
		t.Errorf("DELETE old left its state: %v", err)
	}
	if code, _ := call(t, s, "DELETE", "/containers/old", ""); code != 404 {
		t.Errorf("DELETE old again = %d, want 404", code)
	}
}

// TestAttachBeforeAnswer: an attach to a created container is registered
// before its answer goes out. docker run starts the container as soon as
// the answer comes; a start that found no attachment would run it
// detached and leave the attach waiting for ever (seen as a hang in
// bats 95, "10 parallel docker run --rm").
func TestAttachBeforeAnswer(t *testing.T) {
	s, _ := testState(t)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	for i := 1; i <= 100; i++ {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /containers/fresh/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: d\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n\r\n")
		head, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil || !strings.Contains(head, "101") {
			t.Fatalf("attach %d: answer %q, %v", i, head, err)
		}
		s.mu.Lock()
		n := len(s.pending["ccc333"])
		s.mu.Unlock()
		if n != i {
			t.Fatalf("attach %d answered with %d attachments pending, want %d: a start now would miss it", i, n, i)
		}
	}
}
