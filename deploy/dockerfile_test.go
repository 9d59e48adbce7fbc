package deploy

import (
	"regexp"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with its continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

func parseDockerfile(text string) []instruction {
	var out []instruction
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
	}
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return out
}

func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(repoFile(t, "Dockerfile"))
	var froms, runs []string
	var last = map[string]string{} // the final stage's last value of each instruction
	for _, in := range ins {
		switch in.cmd {
		case "FROM":
			froms = append(froms, in.args)
			last = map[string]string{}
		case "RUN":
			runs = append(runs, in.args)
		}
		last[in.cmd] = in.args
	}
	allRuns := strings.Join(runs, "\n")

	t.Run("builds in a Go stage and ships a second, small stage", func(t *testing.T) {
		if len(froms) < 2 {
			t.Fatalf("FROM lines %v, want a multi-stage build", froms)
		}
		if !strings.HasPrefix(froms[0], "golang:1.26") {
			t.Errorf("build stage FROM %q, want golang:1.26", froms[0])
		}
		if !strings.Contains(froms[len(froms)-1], "distroless/static") {
			t.Errorf("final stage FROM %q, want a static distroless image", froms[len(froms)-1])
		}
	})
	t.Run("mirrors CI: make data, then a pure-Go build", func(t *testing.T) {
		if !strings.Contains(allRuns, "make data") {
			t.Error("no RUN make data: the image would have no MNIST files")
		}
		if !regexp.MustCompile(`CGO_ENABLED=0 go build .*-o /out/app`).MatchString(allRuns) {
			t.Error("no RUN CGO_ENABLED=0 go build -o /out/app")
		}
		if !strings.Contains(allRuns, "go mod download") {
			t.Error("no RUN go mod download: module downloads are not cached in their own layer")
		}
	})
	t.Run("the final stage runs as a non-root user", func(t *testing.T) {
		user := last["USER"]
		nonrootBase := strings.HasSuffix(froms[len(froms)-1], ":nonroot")
		if user == "root" || strings.HasPrefix(user, "0") || (user == "" && !nonrootBase) {
			t.Errorf("final stage USER %q on %q, want a non-root user", user, froms[len(froms)-1])
		}
	})
	t.Run("the final stage serves on 5000 with a healthcheck and the MNIST folder set", func(t *testing.T) {
		if last["EXPOSE"] != "5000" {
			t.Errorf("EXPOSE %q, want 5000", last["EXPOSE"])
		}
		if hc := last["HEALTHCHECK"]; !strings.Contains(hc, `CMD ["/app", "healthcheck"]`) {
			t.Errorf("HEALTHCHECK %q, want CMD [\"/app\", \"healthcheck\"]", hc)
		}
		if last["ENTRYPOINT"] != `["/app"]` || last["CMD"] != `["serve"]` {
			t.Errorf("ENTRYPOINT %s CMD %s, want [\"/app\"] [\"serve\"]", last["ENTRYPOINT"], last["CMD"])
		}
		if env := last["ENV"]; !strings.Contains(env, "MNIST_DIR=/data/mnist") || !strings.Contains(env, "MODEL_DIR=/models") {
			t.Errorf("ENV %q, want MNIST_DIR=/data/mnist and MODEL_DIR=/models", env)
		}
		if wd := last["WORKDIR"]; wd == "" || wd == "/" {
			t.Errorf("WORKDIR %q: the SQLite file needs a writable working directory", wd)
		}
	})
}

func TestDockerignoreKeepsLocalStateOut(t *testing.T) {
	text := repoFile(t, ".dockerignore")
	for _, want := range [][]string{
		{".git"}, {"data", "data/", "/data"}, {"saved_models", "saved_models/"},
		{"app", "/app"}, {"bench-out", "bench-out/"}, {"*.db", "**/*.db"},
	} {
		if !containsLine(text, want...) {
			t.Errorf(".dockerignore has no line %q", want[0])
		}
	}
}
