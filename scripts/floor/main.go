// Command floor is what ctrkit's process design costs on a machine before
// any stage does its work: the processes of `ctr-run --rm` and of
// `ctrkit-runc run`, started in the same order and with the same pipes,
// each doing nothing but start, pass the document on and end (make bench,
// scripts/bench-floor.sh; c/floor.c is the same in C).
//
//	floor run      ctr-run --rm: four stages at once in a pipe, each
//	               passing 26 KB on, as img-pull | fs-layer | cg-limit |
//	               net-bridge; then ns-enter's stage 0, which starts
//	               stage 1, which executes /bin/true
//	floor runtime  ctrkit-runc run: stage 0 starts cg-limit (the
//	               document in and out) and stage 1 at once; stage 1
//	               executes /bin/true once cg-limit's document is back
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
)

// document is the size of the runtime spec a ctrkit pipe carries.
const document = 26000

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: floor run|runtime")
		os.Exit(2)
	}
	self, err := os.Executable()
	if err == nil {
		err = run(self, os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(self, mode string) error {
	switch mode {
	case "run":
		var in io.Reader = bytes.NewReader(make([]byte, document))
		var stages []*exec.Cmd
		for range 4 {
			c := exec.Command(self, "stage")
			c.Stdin = in
			out, err := c.StdoutPipe()
			if err != nil {
				return err
			}
			in, stages = out, append(stages, c)
		}
		for _, c := range stages {
			if err := c.Start(); err != nil {
				return err
			}
		}
		if _, err := io.Copy(io.Discard, in); err != nil {
			return err
		}
		for _, c := range stages {
			if err := c.Wait(); err != nil {
				return err
			}
		}
		return exec.Command(self, "stage0").Run()
	case "runtime", "stage0":
		stage1 := exec.Command(self, "stage1")
		goAhead, err := stage1.StdinPipe()
		if err != nil {
			return err
		}
		if err := stage1.Start(); err != nil {
			return err
		}
		if mode == "runtime" {
			cg := exec.Command(self, "stage")
			cg.Stdin = bytes.NewReader(make([]byte, document))
			if _, err := cg.Output(); err != nil {
				return err
			}
		}
		goAhead.Close()
		return stage1.Wait()
	case "stage":
		if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
			return err
		}
		_, err := os.Stdout.Write(make([]byte, document))
		return err
	case "stage1":
		if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
			return err
		}
		return syscall.Exec("/bin/true", []string{"true"}, os.Environ())
	}
	return fmt.Errorf("unknown mode %q", mode)
}
