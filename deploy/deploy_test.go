// Package deploy holds the Dockerfile, docker-compose stack, Kubernetes
// manifests and Terraform to run Sluice next to Amazon MSK. This test keeps
// them honest: every sluice command line in them goes through the CLI's own
// flag parser, so a renamed flag breaks the build rather than a deploy.
package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/sluicehq/sluice/internal/cli"
)

// invocation is one sluice command line found in a file.
type invocation struct {
	where string            // file and object, for messages
	args  []string          // without the program name
	env   map[string]string // SLUICE_* set for this container only
}

func TestCommandLinesParse(t *testing.T) {
	var all []invocation
	for _, f := range yamlFiles(t) {
		all = append(all, yamlInvocations(t, f)...)
	}
	docs, _ := filepath.Glob("../docs/*.md")
	for _, d := range append(docs, "../README.md") {
		all = append(all, markdownInvocations(t, d)...)
	}
	seen := map[string]bool{}
	for _, inv := range all {
		if err := cli.ParseOnlyEnv(inv.args, inv.env); err != nil {
			t.Errorf("%s: sluice %s: %v", inv.where, strings.Join(inv.args, " "), err)
		}
		if len(inv.args) > 0 {
			seen[inv.args[0]] = true
		}
	}
	// Guard against a parser that silently finds nothing.
	for _, want := range []string{"broker", "check", "process", "sink", "produce", "collect"} {
		if !seen[want] {
			t.Errorf("no `sluice %s` command line found in deploy/: is the manifest walk broken?", want)
		}
	}
	t.Logf("%d sluice command lines checked (%v)", len(all), keys(seen))
}

// TestSharedEnvNamesFlags: every SLUICE_* key of a shared ConfigMap or
// compose anchor must be a flag of at least one command.
func TestSharedEnvNamesFlags(t *testing.T) {
	commands := [][]string{{"broker"}, {"check"}, {"process"}, {"sink"}, {"produce"}, {"collect"}}
	for _, f := range yamlFiles(t) {
		for _, doc := range yamlDocs(t, f) {
			if str(doc, "kind") != "ConfigMap" {
				continue
			}
			for k := range mapOf(doc["data"]) {
				name, ok := strings.CutPrefix(k, "SLUICE_")
				if !ok {
					continue
				}
				flag := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
				if !slices.ContainsFunc(commands, func(c []string) bool { return cli.HasFlag(c, flag) }) {
					t.Errorf("%s: ConfigMap %s: %s matches no flag --%s of any command", f, str(mapOf(doc["metadata"]), "name"), k, flag)
				}
			}
		}
	}
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var lastFrom, user, entrypoint string
	static := false
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			lastFrom, user = fields[1], "" // USER is per stage
		case "USER":
			user = fields[1]
		case "ENTRYPOINT":
			entrypoint = strings.Join(fields[1:], " ")
		}
		if strings.Contains(line, "CGO_ENABLED=0") {
			static = true
		}
	}
	if lastFrom != "scratch" && !strings.HasPrefix(lastFrom, "gcr.io/distroless/static") {
		t.Errorf("final stage FROM %s: want scratch or distroless static", lastFrom)
	}
	if user == "" || user == "root" || strings.HasPrefix(user, "0") {
		t.Errorf("final stage USER %q: want a non-root user", user)
	}
	if !static {
		t.Error("the binary must be built with CGO_ENABLED=0 (static)")
	}
	if entrypoint != `["/sluice"]` {
		t.Errorf("ENTRYPOINT %s: want [\"/sluice\"], the manifests pass subcommands as args", entrypoint)
	}
}

func TestComposeConfig(t *testing.T) {
	bin, err := exec.LookPath("docker-compose")
	args := []string{"-f", "docker-compose.yml", "config", "-q"}
	if err != nil {
		if bin, err = exec.LookPath("docker"); err != nil || exec.Command(bin, "compose", "version").Run() != nil {
			t.Skip("neither docker-compose nor docker compose installed: compose file not validated")
		}
		args = append([]string{"compose"}, args...)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
}

// yamlFiles lists every YAML file under deploy/.
func yamlFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := filepath.Ext(path); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatal("no YAML under deploy/")
	}
	return files
}

// yamlDocs parses every document of a YAML file; a syntax error fails.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %s", path, yaml.FormatError(err, false, true))
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

// yamlInvocations finds sluice command lines in Kubernetes workloads and in
// docker-compose services.
func yamlInvocations(t *testing.T, path string) []invocation {
	var out []invocation
	for _, doc := range yamlDocs(t, path) {
		if services := mapOf(doc["services"]); services != nil {
			for name, s := range services {
				svc := mapOf(s)
				if !strings.HasPrefix(str(svc, "image"), "sluice") {
					continue
				}
				argv := append(strList(svc["entrypoint"]), strList(svc["command"])...)
				out = append(out, invocation{where: path + ": service " + name, args: stripProgram(argv), env: envOf(svc["environment"])})
			}
			continue
		}
		for _, c := range containers(doc) {
			if !strings.Contains(str(c, "image"), "sluice") {
				continue
			}
			argv := append(strList(c["command"]), strList(c["args"])...)
			env := map[string]string{}
			for _, e := range listOf(c["env"]) {
				em := mapOf(e)
				env[str(em, "name")] = str(em, "value")
			}
			where := path + ": " + str(doc, "kind") + " " + str(mapOf(doc["metadata"]), "name") + " container " + str(c, "name")
			out = append(out, invocation{where: where, args: stripProgram(argv), env: env})
		}
	}
	return out
}

// containers returns the containers and init containers of a workload.
func containers(doc map[string]any) []map[string]any {
	spec := mapOf(doc["spec"])
	switch str(doc, "kind") {
	case "CronJob":
		spec = mapOf(mapOf(mapOf(spec["jobTemplate"])["spec"]))
		fallthrough
	case "Deployment", "StatefulSet", "DaemonSet", "Job":
		pod := mapOf(mapOf(spec["template"])["spec"])
		var out []map[string]any
		for _, k := range []string{"initContainers", "containers"} {
			for _, c := range listOf(pod[k]) {
				out = append(out, mapOf(c))
			}
		}
		return out
	}
	return nil
}

// markdownInvocations finds `sluice ...` lines in the fenced code blocks of
// a Markdown file (continuation backslashes joined, comments dropped).
func markdownInvocations(t *testing.T, path string) []invocation {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []invocation
	sc := bufio.NewScanner(f)
	inFence, lineNo, pending, start := false, 0, "", 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
			continue
		}
		if !inFence {
			continue
		}
		if pending == "" {
			line = strings.TrimPrefix(line, "$ ")
			if _, words := leadingEnv(shellFields(line)); len(words) == 0 || filepath.Base(words[0]) != "sluice" {
				continue
			}
			if strings.Contains(line, " [-") { // a usage synopsis, not a command line
				continue
			}
			start = lineNo
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			pending += cont + " "
			continue
		}
		env, argv := leadingEnv(shellFields(pending + line))
		pending = ""
		out = append(out, invocation{where: path + ":" + strconv.Itoa(start), args: stripProgram(argv), env: env})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// leadingEnv splits VAR=value words off the front of a command line.
func leadingEnv(words []string) (map[string]string, []string) {
	env := map[string]string{}
	for len(words) > 0 {
		k, v, ok := strings.Cut(words[0], "=")
		if !ok || k == "" || strings.ToUpper(k) != k || strings.ContainsAny(k, "-/.") {
			break
		}
		env[k] = v
		words = words[1:]
	}
	return env, words
}

// shellFields splits a command line the way a shell would for the simple
// cases in docs: quotes group, a # starts a comment, | ; && end the command.
func shellFields(s string) []string {
	var (
		out   []string
		cur   strings.Builder
		quote rune
		has   bool
	)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, has = r, true
		case r == ' ' || r == '\t':
			if has {
				out = append(out, cur.String())
				cur.Reset()
				has = false
			}
		case (r == '#' || r == '|' || r == ';' || r == '&' || r == '>') && !has:
			return out
		default:
			cur.WriteRune(r)
			has = true
		}
	}
	if has {
		out = append(out, cur.String())
	}
	return out
}

// stripProgram drops the leading sluice binary, if any.
func stripProgram(argv []string) []string {
	if len(argv) > 0 && filepath.Base(argv[0]) == "sluice" {
		return argv[1:]
	}
	return argv
}

func envOf(v any) map[string]string {
	env := map[string]string{}
	if m := mapOf(v); m != nil {
		for k, x := range m {
			env[k] = scalar(x)
		}
	}
	for _, x := range listOf(v) {
		k, val, _ := strings.Cut(scalar(x), "=")
		env[k] = val
	}
	return env
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func listOf(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(m map[string]any, k string) string { return scalar(m[k]) }

func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	default:
		b, _ := yaml.Marshal(x)
		return strings.TrimSpace(string(b))
	}
}

func strList(v any) []string {
	if s, ok := v.(string); ok {
		return shellFields(s)
	}
	var out []string
	for _, x := range listOf(v) {
		out = append(out, scalar(x))
	}
	return out
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
