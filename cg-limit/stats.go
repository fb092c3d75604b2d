package main

import (
	"encoding/json"
	"fmt"
	"time"

	"ctrkit/internal/cli"
)

// StatsCmd is cg-limit stats NAME.
type StatsCmd struct {
	Name     string        `arg:"" help:"The cgroup."`
	Format   string        `help:"Output format: text or json." enum:"text,json" default:"text"`
	Watch    bool          `short:"w" help:"Print again every --interval until interrupted or the cgroup is gone."`
	Interval time.Duration `help:"Time between two --watch readings." default:"1s"`
}

func (c *StatsCmd) Run(g *cli.Globals, s *Stdio) error {
	cg, err := open(g, s, c.Name)
	if err != nil {
		return err
	}
	tty := s.terminal()
	for first := true; ; first = false {
		if !first && len(cg.Dirs()) == 0 {
			return nil
		}
		st, err := cg.Stats()
		if err != nil {
			return err
		}
		switch {
		case c.Format == "json" && c.Watch:
			data, _ := json.Marshal(st)
			fmt.Fprintln(s.Stdout, string(data))
		case c.Format == "json":
			data, _ := json.MarshalIndent(st, "", "  ")
			fmt.Fprintln(s.Stdout, string(data))
		default:
			if c.Watch && tty {
				fmt.Fprint(s.Stdout, "\033[H\033[2J")
			} else if !first {
				fmt.Fprintln(s.Stdout)
			}
			fmt.Fprint(s.Stdout, st.Format())
		}
		if !c.Watch {
			return nil
		}
		time.Sleep(c.Interval)
	}
}
