package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// applyEnvAndConfig fills every flag the user did not set on the command
// line, first from SLUICE_<FLAG> in the environment, then from the --config
// file. Precedence: flag > environment > config file > default.
func applyEnvAndConfig(c *cobra.Command) error {
	file, own := map[string]any{}, map[string]bool{}
	if path := configPath(c); path != "" {
		var err error
		if file, own, err = readConfigFile(path, c.Name()); err != nil {
			return usageErr(err)
		}
	}
	used := map[string]bool{}
	var firstErr error
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "config" || f.Name == "help" || firstErr != nil {
			used[f.Name] = true
			return
		}
		env := "SLUICE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := c.Flags().Set(f.Name, v); err != nil {
				firstErr = usageErr(fmt.Errorf("%s=%q: %w", env, redact(f.Name, v), err))
			}
			used[f.Name] = true
			return
		}
		if v, ok := file[f.Name]; ok {
			if err := c.Flags().Set(f.Name, configValue(v)); err != nil {
				firstErr = usageErr(fmt.Errorf("config key %s: %w", f.Name, err))
			}
			used[f.Name] = true
		}
	})
	if firstErr != nil {
		return firstErr
	}
	// A top-level key is shared by every command: it may be another
	// command's flag (log-format for check, topics for process). Only a key
	// no command takes, or one in this command's own section, is a mistake.
	for k := range file {
		if !used[k] && (own[k] || !anyCommandHasFlag(c.Root(), k)) {
			return usageErr(fmt.Errorf("config file: unknown key %q for %s", k, c.CommandPath()))
		}
	}
	return nil
}

// anyCommandHasFlag says whether c or a command below it takes --name.
func anyCommandHasFlag(c *cobra.Command, name string) bool {
	if c.Flags().Lookup(name) != nil || c.PersistentFlags().Lookup(name) != nil {
		return true
	}
	for _, sub := range c.Commands() {
		if anyCommandHasFlag(sub, name) {
			return true
		}
	}
	return false
}

// configPath is --config, or else SLUICE_CONFIG: the file must be known
// before the other flags are filled from it.
func configPath(c *cobra.Command) string {
	if f := c.Flags().Lookup("config"); f != nil && f.Changed {
		return f.Value.String()
	}
	return os.Getenv("SLUICE_CONFIG")
}

// readConfigFile returns the top-level keys overlaid with those under the
// command's own section (e.g. "sink:"), and which keys came from that
// section.
func readConfigFile(path, section string) (map[string]any, map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading --config: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, nil, fmt.Errorf("--config %s: %s", path, yaml.FormatError(err, false, false))
	}
	out, own := map[string]any{}, map[string]bool{}
	for k, v := range raw {
		if _, isSection := v.(map[string]any); !isSection {
			out[k] = v
		}
	}
	if sec, ok := raw[section].(map[string]any); ok {
		for k, v := range sec {
			out[k], own[k] = v, true
		}
	}
	return out, own, nil
}

func configValue(v any) string {
	if list, ok := v.([]any); ok {
		parts := make([]string, len(list))
		for i, x := range list {
			parts[i] = fmt.Sprint(x)
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}

// redact hides secret values in error messages.
func redact(flag, v string) string {
	if strings.Contains(flag, "password") || strings.Contains(flag, "secret") || strings.Contains(flag, "key") {
		return "<redacted>"
	}
	return v
}
