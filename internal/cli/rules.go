package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/processor"
	"github.com/sluicehq/sluice/processor/rule"
	"github.com/sluicehq/sluice/schema"
)

func newRulesCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "rules",
		Short: "Test, lint and backtest rule files",
		Long: `Tools for rule authors: run every rule's inline tests, check rule files
statically, and run rules over a file of events before deploying them.`,
	}
	c.AddCommand(newRulesTestCmd(), newRulesLintCmd(), newRulesRunCmd())
	return group(c)
}

// rulesArgs returns the rules directory a command was given (default
// "rules") and the schemas its rules may read.
func rulesArgs(c *cobra.Command, args, schemas []string) (string, map[string]*schema.Schema, error) {
	dir := "rules"
	switch len(args) {
	case 0:
	case 1:
		dir = args[0]
	default:
		return "", nil, usageErr(fmt.Errorf("%s: want at most one directory (see '%s --help')", c.CommandPath(), c.CommandPath()))
	}
	sc, err := resolveSchemas(schemas)
	if err != nil {
		return "", nil, usageErr(err)
	}
	return dir, sc, nil
}

func newRulesTestCmd() *cobra.Command {
	var (
		schemas []string
		verbose bool
	)
	c := &cobra.Command{
		Use:   "test [DIR]",
		Short: "Run the inline tests of every rule file in DIR (default ./rules)",
		Long: `Loads every rule file in DIR and runs its inline tests: a filter test feeds one
event and expects match or no_match (and optionally the projected output); a
window test feeds timestamped events and expects the rows emitted once the
input ends. Failures print a diff; the exit status is 1 if any test fails.`,
		Example: `  sluice rules test
  sluice rules test ./rules -v`,
		RunE: func(c *cobra.Command, args []string) error {
			dir, sc, err := rulesArgs(c, args, schemas)
			if err != nil {
				return err
			}
			rules, err := rule.LoadDir(dir, sc)
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			pass, fail := 0, 0
			for _, r := range rules {
				if len(r.Spec.Tests) == 0 {
					fmt.Fprintf(out, "?    %s: no tests\n", r.Name)
				}
				for _, res := range r.RunTests() {
					if res.Passed() {
						pass++
						if verbose {
							fmt.Fprintf(out, "ok   %s / %s\n", r.Name, res.Name)
						}
						continue
					}
					fail++
					fmt.Fprintf(out, "FAIL %s / %s (%s)\n    %s\n", r.Name, res.Name, res.At, strings.ReplaceAll(res.Fail, "\n", "\n    "))
				}
			}
			fmt.Fprintf(out, "%d rules, %d tests passed, %d failed\n", len(rules), pass, fail)
			if fail > 0 {
				return fmt.Errorf("%d rule tests failed", fail)
			}
			return nil
		},
	}
	c.Flags().StringSliceVar(&schemas, "schemas", schema.Builtin(), "schemas rules may use as source: built-in names or schema files")
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "list passing tests too")
	return c
}

func newRulesLintCmd() *cobra.Command {
	var (
		schemas []string
		strict  bool
	)
	c := &cobra.Command{
		Use:   "lint [DIR]",
		Short: "Check the rule files in DIR (default ./rules) without running them",
		Long: `Static checks: each file loads (known schema, fields and types, bool
predicates), rule names and output topics are unique, rules have tests and a
description, and which schema fields no rule reads. Exit status 1 on errors
(and on warnings with --strict).`,
		Example: `  sluice rules lint ./rules --strict`,
		RunE: func(c *cobra.Command, args []string) error {
			dir, sc, err := rulesArgs(c, args, schemas)
			if err != nil {
				return err
			}
			fs, err := rule.Lint(dir, sc)
			if err != nil {
				return err
			}
			count := map[string]int{}
			for _, f := range fs {
				fmt.Fprintln(c.OutOrStdout(), f.String())
				count[f.Severity]++
			}
			fmt.Fprintf(c.OutOrStdout(), "%d errors, %d warnings\n", count["error"], count["warning"])
			if count["error"] > 0 || (strict && count["warning"] > 0) {
				return fmt.Errorf("lint found %d errors and %d warnings", count["error"], count["warning"])
			}
			return nil
		},
	}
	c.Flags().StringSliceVar(&schemas, "schemas", schema.Builtin(), "schemas rules may use as source: built-in names or schema files")
	c.Flags().BoolVar(&strict, "strict", false, "fail on warnings too")
	return c
}

func newRulesRunCmd() *cobra.Command {
	var (
		schemas []string
		dir     string
		from    string
		source  string
		only    []string
		raw     bool
	)
	c := &cobra.Command{
		Use:   "run --rules DIR --from FILE",
		Short: "Backtest: run rules over a file of events, print their outputs as NDJSON",
		Long: `Runs the rules over the events in FILE (newline-delimited JSON or Firehose-style
concatenated JSON; - for stdin) as one ordered stream, and prints each output
record on stdout, one JSON object per line:
  {"rule": NAME, "key": KEY, "record": OUTPUT}
(--raw prints OUTPUT alone). Windows still open when the input ends are
emitted then. A summary goes to stderr.`,
		Example: `  sluice rules run --rules ./rules --from events.ndjson > outputs.ndjson
  sluice rules run --rules ./rules --source beer_clicks --from PUT-S3-clickstreamdata-1-2024-04-23-10-02-19-...`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if from == "" {
				return usageErr(fmt.Errorf("--from is required (a file, or - for stdin)"))
			}
			sc, err := resolveSchemas(schemas)
			if err != nil {
				return usageErr(err)
			}
			rules, err := rule.LoadDir(dir, sc)
			if err != nil {
				return err
			}
			if rules, err = selectRules(rules, only, dir); err != nil {
				return usageErr(err)
			}
			if source == "" {
				seen := map[string]bool{}
				for _, r := range rules {
					seen[r.Source] = true
				}
				if len(seen) != 1 {
					var names []string
					for s := range seen {
						names = append(names, s)
					}
					sort.Strings(names)
					return usageErr(fmt.Errorf("the rules read %d sources (%s): pick one with --source", len(seen), strings.Join(names, ", ")))
				}
				for s := range seen {
					source = s
				}
			}
			var in io.Reader = c.InOrStdin()
			if from != "-" {
				f, err := os.Open(from)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			w := bufio.NewWriterSize(c.OutOrStdout(), 1<<16)
			start := time.Now()
			res, err := processor.Backtest(rules, source, in, func(r *rule.Rule, key, value []byte) error {
				return writeOutput(w, r.Name, key, value, raw)
			})
			// Outputs are buffered: a disk that is full or a pipe that is
			// closed shows only here, and must not end the run with exit 0.
			if ferr := w.Flush(); err == nil && ferr != nil {
				err = fmt.Errorf("writing outputs: %w", ferr)
			}
			if res != nil {
				e := c.ErrOrStderr()
				fmt.Fprintf(e, "read %d events (%d invalid) in %s\n", res.Events, res.Invalid, time.Since(start).Round(time.Millisecond))
				names := make([]string, 0, len(res.Rules))
				for n := range res.Rules {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					s := res.Rules[n]
					fmt.Fprintf(e, "  %-32s matched %d, output %d, late %d, errors %d\n", n, s.Matched, s.Outputs, s.Late, s.Errors)
				}
				for _, m := range res.FirstInvalid {
					fmt.Fprintf(e, "  invalid: %s\n", m)
				}
			}
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&dir, "rules", "rules", "directory of rule files")
	f.StringVar(&from, "from", "", "file of events (NDJSON or concatenated JSON), - for stdin")
	f.StringVar(&source, "source", "", "schema of the events (default: the one source all rules read)")
	f.StringSliceVar(&only, "rule", nil, "run only these rules (default: all)")
	f.BoolVar(&raw, "raw", false, "print output records alone, without the rule/key envelope")
	f.StringSliceVar(&schemas, "schemas", schema.Builtin(), "schemas rules may use as source: built-in names or schema files")
	return c
}

// selectRules keeps the rules named in only (all when only is empty). A
// name no rule has is an error: a misspelt --rule must not quietly run the
// others, or none.
func selectRules(rules []*rule.Rule, only []string, dir string) ([]*rule.Rule, error) {
	if len(only) == 0 {
		return rules, nil
	}
	byName := map[string]*rule.Rule{}
	for _, r := range rules {
		byName[r.Name] = r
	}
	keep := map[string]bool{}
	for _, n := range only {
		if byName[n] == nil {
			return nil, fmt.Errorf("--rule %s: no such rule in %s", n, dir)
		}
		keep[n] = true
	}
	var sel []*rule.Rule
	for _, r := range rules {
		if keep[r.Name] {
			sel = append(sel, r)
		}
	}
	return sel, nil
}

// writeOutput writes one output record as a line of NDJSON, in the
// rule/key envelope unless raw. A filter passes its input on as it came in,
// which may span lines (pretty-printed JSON); it is compacted so that each
// output stays on one line.
func writeOutput(w *bufio.Writer, name string, key, value []byte, raw bool) error {
	if bytes.ContainsAny(value, "\r\n") {
		var b bytes.Buffer
		if err := json.Compact(&b, value); err != nil {
			return fmt.Errorf("rule %s: output is not JSON: %w", name, err)
		}
		value = b.Bytes()
	}
	if !raw {
		k := []byte("null")
		if key != nil {
			k, _ = json.Marshal(string(key))
		}
		fmt.Fprintf(w, `{"rule":%q,"key":%s,"record":`, name, k)
	}
	w.Write(value)
	if !raw {
		w.WriteByte('}')
	}
	// A bufio.Writer's error is sticky: checking the last write covers all.
	if err := w.WriteByte('\n'); err != nil {
		return fmt.Errorf("writing outputs: %w", err)
	}
	return nil
}
