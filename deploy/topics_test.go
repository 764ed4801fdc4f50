package deploy

import (
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/sluicehq/sluice/internal/cli"
	"github.com/sluicehq/sluice/processor/rule"
)

// TestComposeRuleSources: `sluice process` exits at start when a source
// topic of one of its rules does not exist ("source topic X does not
// exist"), and compose restarts it for ever. Every source topic of the
// rules the compose processor mounts must exist before it starts: created
// by the broker at start (--topics), or by a `check --create` service the
// processor waits for to complete.
func TestComposeRuleSources(t *testing.T) {
	docs := yamlDocs(t, "docker-compose.yml")
	if len(docs) != 1 {
		t.Fatalf("docker-compose.yml: %d documents, want 1", len(docs))
	}
	services := mapOf(docs[0]["services"])
	ready := map[string]bool{} // topics that exist before the processor starts
	type proc struct {
		name string
		svc  map[string]any
		fs   *pflag.FlagSet
	}
	var procs []proc
	checks := map[string][]string{} // check --create service -> its topics
	for name, s := range services {
		svc := mapOf(s)
		if !strings.HasPrefix(str(svc, "image"), "sluice") {
			continue
		}
		args := stripProgram(append(strList(svc["entrypoint"]), strList(svc["command"])...))
		if len(args) == 0 {
			continue
		}
		fs := flagsOf(t, args)
		switch args[0] {
		case "broker":
			for _, tp := range stringSlice(t, fs, "topics") {
				ready[tp] = true
			}
		case "check":
			if b, _ := fs.GetBool("create"); b {
				checks[name] = append(stringSlice(t, fs, "topics"), stringSlice(t, fs, "compacted")...)
			}
		case "process":
			procs = append(procs, proc{name, svc, fs})
		}
	}
	if len(procs) == 0 {
		t.Fatal("no `sluice process` service in docker-compose.yml")
	}
	for _, p := range procs {
		have := map[string]bool{}
		for tp := range ready {
			have[tp] = true
		}
		deps := mapOf(p.svc["depends_on"])
		for name, topics := range checks {
			if str(mapOf(deps[name]), "condition") == "service_completed_successfully" {
				for _, tp := range topics {
					have[tp] = true
				}
			}
		}
		rulesDir, _ := p.fs.GetString("rules")
		host := ""
		for _, v := range strList(p.svc["volumes"]) {
			parts := strings.Split(v, ":")
			if len(parts) >= 2 && parts[1] == rulesDir {
				host = parts[0]
			}
		}
		if host == "" {
			t.Fatalf("service %s: --rules %s is not a mounted host directory", p.name, rulesDir)
		}
		rules, err := rule.LoadDir(filepath.FromSlash(host), nil) // relative to the compose file, like compose
		if err != nil {
			t.Fatalf("service %s: loading %s: %v", p.name, host, err)
		}
		for _, r := range rules {
			if !have[r.Schema.Topic] {
				t.Errorf("service %s: rule %s reads topic %s, which exists neither from the broker's --topics nor from a check --create service the processor waits for: the processor exits at start", p.name, r.Name, r.Schema.Topic)
			}
		}
	}
}

// flagsOf parses a sluice command line (without the program name) with the
// CLI's own flag set and returns the subcommand's flags, defaults included.
func flagsOf(t *testing.T, args []string) *pflag.FlagSet {
	t.Helper()
	c, rest, err := cli.NewRoot(io.Discard, io.Discard).Find(args)
	if err != nil {
		t.Fatalf("sluice %s: %v", strings.Join(args, " "), err)
	}
	if err := c.ParseFlags(rest); err != nil {
		t.Fatalf("sluice %s: %v", strings.Join(args, " "), err)
	}
	return c.Flags()
}

func stringSlice(t *testing.T, fs *pflag.FlagSet, name string) []string {
	t.Helper()
	v, err := fs.GetStringSlice(name)
	if err != nil {
		t.Fatalf("--%s: %v", name, err)
	}
	return slices.Clone(v)
}
