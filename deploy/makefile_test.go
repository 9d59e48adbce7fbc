package deploy

import (
	"regexp"
	"strings"
	"testing"
)

func TestMakefileHasTheDocumentedTargets(t *testing.T) {
	text := repoFile(t, "Makefile")
	for _, target := range []string{"data", "build", "run", "train", "serve", "test", "bench", "lint", "docker", "compose-test"} {
		if !regexp.MustCompile(`(?m)^` + target + `:`).MatchString(text) {
			t.Errorf("Makefile has no target %q", target)
		}
	}
	if !regexp.MustCompile(`(?m)^\s+CGO_ENABLED=0 go build .*-o app \.`).MatchString(text) {
		t.Error("Makefile build is not CGO_ENABLED=0 go build -o app .")
	}
}

func TestReadmeOpensWithTheTwoCommands(t *testing.T) {
	text := repoFile(t, "README.md")
	start := strings.Index(text, "```")
	if start < 0 {
		t.Fatal("README.md has no code block")
	}
	end := strings.Index(text[start+3:], "```")
	if end < 0 {
		t.Fatal("README.md's first code block is not closed")
	}
	first := text[start : start+3+end]
	for _, cmd := range []string{"make run", "make test"} {
		if !strings.Contains(first, cmd) {
			t.Errorf("README.md's first code block does not give %q", cmd)
		}
	}
	// Every make command the README shows (in code or a command line) must be a target, or a reader hits an error.
	mk := repoFile(t, "Makefile")
	for _, m := range regexp.MustCompile("(?m)(?:^|`)make ([a-z][a-z-]*)").FindAllStringSubmatch(text, -1) {
		if !regexp.MustCompile(`(?m)^` + m[1] + `:`).MatchString(mk) {
			t.Errorf("README.md names make %s, which the Makefile lacks", m[1])
		}
	}
}

// TestCIRunsTheComposeTestAfterMakeTest: the deployment test runs in CI,
// after the unit tests, and comes last so that its summary line closes the
// output.
func TestCIRunsTheComposeTestAfterMakeTest(t *testing.T) {
	var cmds []string
	for _, line := range strings.Split(repoFile(t, ".ci/run"), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "make ") || strings.HasPrefix(line, "exec make ") {
			cmds = append(cmds, strings.TrimPrefix(line, "exec "))
		}
	}
	if len(cmds) < 2 || cmds[len(cmds)-2] != "make test" || cmds[len(cmds)-1] != "make compose-test" {
		t.Errorf(".ci/run runs %q; want make test, then make compose-test last", cmds)
	}
	if !regexp.MustCompile(`(?m)^compose-test:\n\tscripts/compose-test.sh`).MatchString(repoFile(t, "Makefile")) {
		t.Error("make compose-test does not run scripts/compose-test.sh")
	}
}
