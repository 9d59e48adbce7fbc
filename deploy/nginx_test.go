package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var stmtSep = regexp.MustCompile(`[;{}]`)

// directives returns the simple directives of an nginx config (name and
// arguments), comments removed; blocks are flattened, which is enough here.
func directives(text string) [][]string {
	var out [][]string
	for _, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		for _, stmt := range stmtSep.Split(line, -1) {
			if f := strings.Fields(stmt); len(f) > 0 {
				out = append(out, f)
			}
		}
	}
	return out
}

func TestNginxProxiesToWeb(t *testing.T) {
	ds := directives(repoFile(t, "deploy/nginx.conf"))
	vars := map[string]string{}
	var passes []string
	var resolver, bodyLimit string
	for _, d := range ds {
		switch {
		case d[0] == "set" && len(d) == 3:
			vars[d[1]] = d[2]
		case d[0] == "proxy_pass" && len(d) == 2:
			passes = append(passes, d[1])
		case d[0] == "resolver" && len(d) >= 2:
			resolver = d[1]
		case d[0] == "client_max_body_size" && len(d) == 2:
			bodyLimit = d[1]
		}
	}
	if len(passes) == 0 {
		t.Fatal("nginx.conf has no proxy_pass")
	}
	for _, p := range passes {
		target := p
		if strings.HasPrefix(p, "$") {
			target = vars[p]
			// A variable target is resolved at request time, which needs a resolver.
			if resolver != "127.0.0.11" {
				t.Errorf("proxy_pass %s without Docker's resolver 127.0.0.11 (resolver %q)", p, resolver)
			}
		}
		if strings.TrimSuffix(target, "/") != "http://web:5000" {
			t.Errorf("proxy_pass %s goes to %q, want http://web:5000", p, target)
		}
	}
	if bodyLimit == "" || bodyLimit == "1m" || bodyLimit == "1M" {
		t.Errorf("client_max_body_size %q: want more than the app's 1 MiB so the app's own 413 gets through", bodyLimit)
	}
}

// nginxTest runs nginx -t on the test wrapper in dir and returns its output.
func nginxTest(tb testing.TB, nginx, dir string) (string, error) {
	tb.Helper()
	prefix := tb.TempDir()
	cmd := exec.Command(nginx, "-t", "-p", prefix+"/", "-e", "stderr", "-c", filepath.Join(dir, "nginx-test.conf"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestNginxConfigPassesNginxT(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("SKIP: no nginx on PATH, so nginx -t cannot check deploy/nginx.conf (.ci/run installs nginx)")
	}
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("the config is valid", func(t *testing.T) {
		out, err := nginxTest(t, nginx, dir)
		if err != nil || !strings.Contains(out, "test is successful") {
			t.Fatalf("nginx -t failed: %v\n%s", err, out)
		}
	})

	t.Run("a broken copy fails, so the wrapper really includes the config", func(t *testing.T) {
		broken := t.TempDir()
		conf := strings.Replace(repoFile(t, "deploy/nginx.conf"), "listen 80;", "listen 80", 1)
		if err := os.WriteFile(filepath.Join(broken, "nginx.conf"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(broken, "nginx-test.conf"), []byte(repoFile(t, "deploy/nginx-test.conf")), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := nginxTest(t, nginx, broken); err == nil {
			t.Fatalf("nginx -t passed a config with a missing semicolon:\n%s", out)
		}
	})
}
