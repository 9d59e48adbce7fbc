package deploy

import (
	"regexp"
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
