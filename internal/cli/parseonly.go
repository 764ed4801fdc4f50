package cli

import (
	"errors"
	"fmt"
	"io"
)

// ParseOnly resolves the subcommand named by args (without the program
// name) and parses its flags and arguments without running it. Tests use it
// to check every sluice command line in deploy manifests against the real
// flag set, so a renamed flag breaks the build rather than a deploy.
func ParseOnly(args []string) error {
	root := NewRoot(io.Discard, io.Discard)
	c, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if c == root {
		return errors.New("no subcommand")
	}
	if !c.Runnable() {
		return fmt.Errorf("%s: not a runnable command", c.CommandPath())
	}
	if err := c.ParseFlags(rest); err != nil {
		return fmt.Errorf("%s: %w", c.CommandPath(), err)
	}
	if c.Args != nil {
		if err := c.Args(c, c.Flags().Args()); err != nil {
			return err
		}
	}
	return nil
}
