package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/processor"
)

// Bad flags and inputs fail fast with one clear line and a non-zero exit.
func TestBadInputFailsFast(t *testing.T) {
	rulesDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(rulesDir, "bad.yaml"), []byte("name: bad\nsource: clickstream\nwhere: event_name ==\noutput: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown flag", []string{"dev", "--bogus"}, 2, "unknown flag: --bogus"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"missing rules", []string{"dev", "--rules", filepath.Join(t.TempDir(), "nope"), "--lake", t.TempDir()}, 2, "--rules"},
		{"syntax error in a rule", []string{"dev", "--rules", rulesDir, "--lake", t.TempDir()}, 1, "bad.yaml:3:"},
		{"unknown compression", []string{"process", "--rules", "../../rules", "--compression", "brotli"}, 2, `--compression "brotli": want none, gzip, snappy, lz4 or zstd`},
		{"zero idle timeout", []string{"process", "--rules", "../../rules", "--idle-timeout", "0"}, 2, "--idle-timeout 0: give a positive duration"},
		{"zero poll size", []string{"process", "--rules", "../../rules", "--max-poll-records", "0"}, 2, "--max-poll-records 0: give a positive number"},
		{"commit interval not a duration", []string{"process", "--rules", "../../rules", "--commit-interval", "soon"}, 2, `invalid argument "soon" for "--commit-interval" flag`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("exit %d (want %d), stderr %q (want one line with %q)", code, tc.code, stderr, tc.want)
			}
		})
	}
}

// Flags also come from SLUICE_* variables and a --config file, with
// precedence flag > environment > file.
func TestEnvAndConfigFile(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(cfg, []byte("partitions: 3\nbroker:\n  listen: 127.0.0.1:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := NewRoot(&bytes.Buffer{}, &bytes.Buffer{})
	cmd, _, err := root.Find([]string{"broker"})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLUICE_PARTITIONS", "4")
	if err := cmd.ParseFlags([]string{"--config", cfg}); err != nil {
		t.Fatal(err)
	}
	if err := applyEnvAndConfig(cmd); err != nil {
		t.Fatal(err)
	}
	if got, _ := cmd.Flags().GetInt32("partitions"); got != 4 {
		t.Fatalf("partitions = %d, want 4 from the environment", got)
	}
	if got, _ := cmd.Flags().GetString("listen"); got != "127.0.0.1:1" {
		t.Fatalf("listen = %q, want the config file's section value", got)
	}

	if err := os.WriteFile(cfg, []byte("no_such_flag: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run("broker", "--config", cfg)
	if code != 2 || !strings.Contains(stderr, `unknown key "no_such_flag"`) {
		t.Fatalf("unknown config key: exit %d, %q", code, stderr)
	}
}

// A misspelt subcommand of a command group must fail, not print the group's
// help and exit 0: in CI, 'sluice rules tset' would otherwise pass without
// running a single test.
func TestUnknownSubcommandFails(t *testing.T) {
	for _, args := range [][]string{{"rules", "tset", "rules"}, {"schema", "infr", "x"}, {"catalog", "dll"}} {
		code, _, stderr := run(args...)
		if code != 2 || !strings.Contains(stderr, `unknown command "`+args[1]+`"`) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
	if code, _, stderr := run("rules", "tset"); !strings.Contains(stderr, `did you mean "test"`) {
		t.Errorf("rules tset: exit %d, stderr %q (want a suggestion)", code, stderr)
	}
	// The group alone still shows its help.
	if code, out, _ := run("rules"); code != 0 || !strings.Contains(out, "Available Commands") {
		t.Errorf("rules: exit %d, stdout %q", code, out)
	}
}

// --config is a flag like the others, so SLUICE_CONFIG names the file too
// (a container sets it once instead of editing every command line).
func TestConfigFileFromEnvironment(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(cfg, []byte("no_such_flag: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLUICE_CONFIG", cfg)
	code, _, stderr := run("rules", "lint", "../../rules")
	if code != 2 || !strings.Contains(stderr, `unknown key "no_such_flag"`) {
		t.Fatalf("SLUICE_CONFIG: exit %d, stderr %q (want the file read)", code, stderr)
	}
}

// One config file serves every command: a top-level key that some sluice
// command takes (log-format, brokers, topics) is for those commands, not an
// error for the others. Keys no command knows, and keys in a command's own
// section that it does not take, are still errors.
func TestSharedConfigFile(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	write := func(s string) {
		if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("log-format: json\ntopics: [clickstream]\nlint:\n  strict: true\n")
	if code, out, errs := run("rules", "lint", "../../rules", "--config", cfg); code != 0 || !strings.Contains(out, "0 errors") {
		t.Fatalf("shared keys: exit %d, %s%s", code, out, errs)
	}
	write("log-fromat: json\n")
	if code, _, errs := run("rules", "lint", "../../rules", "--config", cfg); code != 2 || !strings.Contains(errs, `unknown key "log-fromat"`) {
		t.Fatalf("misspelt key: exit %d, %q", code, errs)
	}
	write("lint:\n  log-format: json\n")
	if code, _, errs := run("rules", "lint", "../../rules", "--config", cfg); code != 2 || !strings.Contains(errs, `unknown key "log-format"`) {
		t.Fatalf("key in the command's section that it does not take: exit %d, %q", code, errs)
	}
}

// A typed --commit-interval 0 means a transaction per poll (the library's
// negative interval), not the library's default for a zero.
func TestProcessCommitInterval(t *testing.T) {
	var got time.Duration
	runProcessor = func(_ context.Context, cfg processor.Config) error {
		got = cfg.CommitInterval
		return nil
	}
	defer func() { runProcessor = processor.Run }()
	for _, tc := range []struct {
		args []string
		want func(time.Duration) bool
		says string
	}{
		{nil, func(d time.Duration) bool { return d == 100*time.Millisecond }, "100ms, the default"},
		{[]string{"--commit-interval", "0"}, func(d time.Duration) bool { return d < 0 }, "negative: a transaction per poll"},
		{[]string{"--commit-interval", "2s"}, func(d time.Duration) bool { return d == 2*time.Second }, "2s"},
	} {
		got = 0
		args := append([]string{"process", "--rules", "../../rules", "--metrics-addr", ""}, tc.args...)
		if code, _, stderr := run(args...); code != 0 || !tc.want(got) {
			t.Errorf("%v: exit %d, commit interval %v (want %s); stderr %s", tc.args, code, got, tc.says, stderr)
		}
	}
}
