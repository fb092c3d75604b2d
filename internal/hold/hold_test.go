package hold

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The stage's side, when this test binary runs as one: its arguments end
// in the --hold 3 that Give appended; it prints its document, waits, and
// says on stderr what it heard.
func init() {
	if os.Getenv("HOLD_TEST_STAGE") == "" {
		return
	}
	args := os.Args[len(os.Args)-2:]
	if args[0] != "--hold" || args[1] != "3" {
		os.Stderr.WriteString("args " + strings.Join(os.Args, " ") + "\n")
		os.Exit(2)
	}
	os.Stdout.WriteString("{}\n")
	rm, err := Wait(os.Stdout, os.Stderr, 3)
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	if rm {
		os.Stderr.WriteString("heard rm\n")
	} else {
		os.Stderr.WriteString("heard nothing\n")
	}
	os.Exit(0)
}

func TestCaller(t *testing.T) {
	for _, tt := range []struct {
		name string
		end  func(*Caller) error
		want string
	}{
		{"rm", (*Caller).Rm, "heard rm\n"},
		{"leave", func(c *Caller) error { c.Leave(); return nil }, "heard nothing\n"},
		{"gone", nil, ""}, // killed while it holds: Rm says so
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "HOLD_TEST_STAGE=1", MarkEnv+"=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			c, err := Give(cmd)
			if err != nil {
				t.Fatal(err)
			}
			err = cmd.Start()
			c.Started()
			if err != nil {
				t.Fatal(err)
			}
			// The document's end comes while the stage still holds: it
			// closed stdout and waits for the caller.
			if doc, _ := io.ReadAll(out); string(doc) != "{}\n" {
				t.Fatalf("document %q, want {}", doc)
			}
			if tt.end == nil {
				// The stage alone had the read end (Started), so "rm"
				// to a stage that is gone fails, and the caller falls
				// back to the stage's rm command.
				cmd.Process.Kill()
				cmd.Wait()
				if err := c.Rm(); err == nil {
					t.Fatal("Rm to a killed stage: no error, want EPIPE")
				}
				return
			}
			if err := tt.end(c); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("stage: %v: %s", err, stderr.String())
			}
			if want := Mark + "\n" + tt.want; stderr.String() != want {
				t.Errorf("stage's stderr %q, want %q", stderr.String(), want)
			}
		})
	}
}
