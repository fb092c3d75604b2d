package main

import "ctrkit/internal/cli"

type DetachCmd struct {
	ID string `arg:"" help:"Container id, as attach printed it or the document's ctrkit.id."`
}

func (c *DetachCmd) Help() string {
	return `Deletes the container's published-port rules (by their comment "ctrkit ID"), its veth pair
(deleting one end deletes both), the network namespace net-bridge made for it (umount and
unlink /run/netns/ck-ID), its files in STATE/ID/, and releases its address. Whatever is
already gone is skipped, so detach also cleans up after a crash.`
}

func (c *DetachCmd) Run(g *cli.Globals, s *Stdio) error {
	_, err := manager(g, s).Detach(c.ID)
	return err
}
