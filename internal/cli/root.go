// Package cli is the sluice command line: one cobra command per component,
// each a thin layer that fills the component's Config and calls its Run.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Main runs the CLI with args and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	root := NewRoot(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		if strings.HasPrefix(err.Error(), "unknown command") { // cobra's own usage error
			return 2
		}
		return 1
	}
	return 0
}

// exitError carries a specific exit code (2 for usage errors).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(err error) error { return &exitError{code: 2, err: err} }

// NewRoot builds the command tree.
func NewRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "sluice",
		Short: "Clickstream pipelines on Kafka: generate, collect, process with rule files, sink to Parquet",
		Long: `Sluice runs clickstream pipelines next to any Kafka-compatible broker.
It replaces Kinesis/MSK ingest, Kinesis Data Analytics SQL and Firehose with
small Go workers: produce/collect -> process (rule files) -> sink (Parquet on S3).

Every flag can also be set from the environment (SLUICE_<FLAG>, dashes as
underscores, e.g. SLUICE_BROKERS) or from a YAML file given with --config
(or SLUICE_CONFIG).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr(fmt.Errorf("%s: %w (see '%s --help')", c.CommandPath(), err, c.CommandPath()))
	})
	root.PersistentFlags().String("config", "", "YAML file of flag values: top-level keys for every command that takes them, keys under a command's name (sink:, lint:) for that command")
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		if err := applyEnvAndConfig(c); err != nil {
			return err
		}
		return kafkaPreflight(c)
	}
	for _, add := range commands {
		root.AddCommand(add())
	}
	root.CompletionOptions.DisableDefaultCmd = true
	return root
}

// commands lists the subcommands; each file adds its own constructor.
var commands = []func() *cobra.Command{
	newBrokerCmd,
	newCheckCmd,
	newDevCmd,
	newProcessCmd,
	newRulesCmd,
	newSinkCmd,
	newProduceCmd,
	newCollectCmd,
	newCatalogCmd,
	newSchemaCmd,
}

// noArgs rejects positional arguments with a usage error.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErr(fmt.Errorf("%s: unexpected argument %q (see '%s --help')", c.CommandPath(), args[0], c.CommandPath()))
	}
	return nil
}

// group makes c, a command that only holds subcommands, fail on an unknown
// one. cobra prints a group's help and exits 0 for any argument, so a
// misspelt 'sluice rules tset' in CI would pass without running anything.
func group(c *cobra.Command) *cobra.Command {
	c.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		if c.SuggestionsMinimumDistance <= 0 {
			c.SuggestionsMinimumDistance = 2 // cobra sets its default only on the root path
		}
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf("; did you mean %q?", s[0])
		}
		return usageErr(fmt.Errorf("%s (see '%s --help')", msg, c.CommandPath()))
	}
	c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	return c
}
