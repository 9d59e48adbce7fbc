package deploy

import (
	"regexp"
	"strings"
	"testing"
)

func TestMakefileHasTheDocumentedTargets(t *testing.T) {
	text := repoFile(t, "Makefile")
	for _, target := range []string{"data", "build", "run", "train", "serve", "test", "bench", "lint", "docker"} {
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
	for _, m := range regexp.MustCompile("(?m)(?:^|`)make ([a-z]+)").FindAllStringSubmatch(text, -1) {
		if !regexp.MustCompile(`(?m)^` + m[1] + `:`).MatchString(mk) {
			t.Errorf("README.md names make %s, which the Makefile lacks", m[1])
		}
	}
}
