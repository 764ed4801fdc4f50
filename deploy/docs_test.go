package deploy

import (
	"bufio"
	"os"
	"path"
	"strconv"
	"strings"
	"testing"
)

// TestDocsShellSteps follows the sh blocks of docs/deploy.md in order, one
// shell per section starting at the repository root, as a reader pasting
// them would: it tracks cd (and cd -) and checks that the files and
// directories the commands name exist where the shell then is, and that
// terraform and kustomize run in a directory of theirs.
func TestDocsShellSteps(t *testing.T) {
	f, err := os.Open("../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exists := func(p string, dir bool) bool {
		st, err := os.Stat(path.Join("..", p))
		return err == nil && st.IsDir() == dir
	}
	cwd, prev := ".", "."
	inSh, checked := false, 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "## "):
			cwd, prev = ".", "."
			continue
		case strings.HasPrefix(line, "```"):
			inSh = !inSh && strings.TrimPrefix(line, "```") == "sh"
			continue
		case !inSh:
			continue
		}
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		for _, cmd := range strings.Split(strings.ReplaceAll(line, "&&", ";"), ";") {
			w := strings.Fields(cmd)
			if len(w) == 0 {
				continue
			}
			where := "docs/deploy.md:" + strconv.Itoa(n) + ": " + strings.TrimSpace(cmd) + " (in " + cwd + ")"
			local := func(p string) bool { return p != "" && !strings.ContainsAny(p, "$:") && !path.IsAbs(p) }
			need := func(p string, dir bool) {
				checked++
				if local(p) && !exists(path.Join(cwd, p), dir) {
					t.Errorf("%s: %s does not exist there", where, p)
				}
			}
			switch {
			case w[0] == "cd" && len(w) == 2 && w[1] == "-":
				cwd, prev = prev, cwd
			case w[0] == "cd" && len(w) == 2:
				need(w[1], true)
				cwd, prev = path.Join(cwd, w[1]), cwd
			case w[0] == "cp" && len(w) == 3:
				need(w[1], false)
			case w[0] == "docker" && len(w) > 1 && w[1] == "build":
				for i := 2; i < len(w); i++ {
					if w[i] == "-f" && i+1 < len(w) {
						need(w[i+1], false)
					}
				}
				need(w[len(w)-1], true)
			case w[0] == "docker-compose" || w[0] == "kubectl":
				for i := 1; i+1 < len(w); i++ {
					switch w[i] {
					case "-f":
						need(w[i+1], false)
					case "-k":
						need(w[i+1], true)
					}
				}
			case w[0] == "terraform" && !strings.HasPrefix(w[1], "-chdir"):
				need("versions.tf", false)
			case w[0] == "kustomize":
				need("kustomization.yaml", false)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if checked < 5 {
		t.Fatalf("only %d paths checked in docs/deploy.md: is the walk broken?", checked)
	}
}
