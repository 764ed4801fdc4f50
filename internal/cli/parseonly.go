package cli

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// ParseOnly resolves the subcommand named by args (without the program
// name) and parses its flags and arguments without running it. Tests use it
// to check every sluice command line in deploy manifests against the real
// flag set, so a renamed flag breaks the build rather than a deploy.
func ParseOnly(args []string) error { return ParseOnlyEnv(args, nil) }

// ParseOnlyEnv is ParseOnly that also checks the SLUICE_<FLAG> variables
// in env: each must name a flag of the command, and a non-empty value must
// parse as that flag's type. Other variables are ignored.
func ParseOnlyEnv(args []string, env map[string]string) error {
	root := NewRoot(io.Discard, io.Discard)
	c, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if c == root {
		return errors.New("no subcommand")
	}
	if !c.Runnable() || c.HasSubCommands() { // a group only shows its help
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
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name, ok := strings.CutPrefix(k, "SLUICE_")
		if !ok {
			continue
		}
		flag := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
		f := c.Flags().Lookup(flag)
		if f == nil {
			return fmt.Errorf("%s: environment variable %s: no flag --%s", c.CommandPath(), k, flag)
		}
		if v := env[k]; v != "" && !f.Changed {
			if err := c.Flags().Set(flag, v); err != nil {
				return fmt.Errorf("%s: %s=%q: %w", c.CommandPath(), k, redact(flag, v), err)
			}
		}
	}
	return nil
}

// HasFlag reports whether the subcommand named by path has the flag.
func HasFlag(path []string, flag string) bool {
	c, _, err := NewRoot(io.Discard, io.Discard).Find(path)
	return err == nil && c.Flags().Lookup(flag) != nil
}
