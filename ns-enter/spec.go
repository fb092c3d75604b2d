package main

// ns-enter spec: the spec the flags describe, printed instead of run.

import (
	"os"

	"ctrkit/internal/cli"
	"ctrkit/internal/spec"
)

type SpecCmd struct {
	specFlags
	input
}

func (c *SpecCmd) Help() string {
	return `Prints what ns-enter would run, as an OCI runtime spec (config.json): save
it in a bundle for runc run, edit it with jq, or pipe it to ns-enter.
With a spec on stdin, prints it with the flags applied.`
}

func (c *SpecCmd) Run(g *cli.Globals) error {
	base, _, err := c.load()
	if err != nil {
		return &cli.ExitError{Code: 125, Err: err}
	}
	s, err := c.build(base)
	if err != nil {
		return &cli.ExitError{Code: 125, Err: err}
	}
	return spec.Write(os.Stdout, s)
}
