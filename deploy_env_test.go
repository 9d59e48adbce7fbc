package main

import (
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mnistserve/app/deploy/k8s"
)

// envOf returns the environment variables the command called name reads.
func envOf(tb testing.TB, name string) map[string]bool {
	tb.Helper()
	c := lookup(name)
	if c == nil {
		tb.Fatalf("no command %q", name)
	}
	fs := newFlagSet(name, io.Discard)
	c.Flag(fs)
	env := map[string]bool{}
	for _, d := range fs.decls {
		if d.Env != nil {
			env[d.Env.Name] = true
		}
	}
	return env
}

// TestDeploymentsSetOnlyDeclaredEnv checks that every environment variable
// the deployments give the app (Kubernetes manifests, every overlay;
// docker-compose.yml's web service) is one its command declares in the
// flags table: a misspelt or removed variable would otherwise be ignored
// without a word.
func TestDeploymentsSetOnlyDeclaredEnv(t *testing.T) {
	t.Run("Kubernetes", func(t *testing.T) {
		root := filepath.Join("deploy", "k8s")
		dirs, err := k8s.Overlays(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, dir := range append([]string{filepath.Join(root, "base")}, dirs...) {
			objs, err := k8s.Render(dir)
			if err != nil {
				t.Fatal(err)
			}
			apps := objs.AppDeployments("mnist-app")
			if len(apps) == 0 {
				t.Fatalf("%s: no Deployment runs mnist-app", dir)
			}
			for _, d := range apps {
				for _, c := range d.Spec.Template.Spec.Containers {
					if len(c.Args) == 0 {
						t.Fatalf("%s: container %s names no command in args", dir, c.Name)
					}
					env := envOf(t, c.Args[0])
					for _, e := range c.Env {
						if !env[e.Name] {
							t.Errorf("%s: %s sets %s, which `app %s` does not declare (declared: %v)", dir, c.Name, e.Name, c.Args[0], slices.Sorted(maps.Keys(env)))
						}
					}
				}
			}
		}
	})

	t.Run("docker-compose.yml", func(t *testing.T) {
		b, err := os.ReadFile("docker-compose.yml")
		if err != nil {
			t.Fatal(err)
		}
		var compose struct {
			Services map[string]struct {
				Environment map[string]string `yaml:"environment"`
			} `yaml:"services"`
		}
		if err := yaml.Unmarshal(b, &compose); err != nil {
			t.Fatalf("parse docker-compose.yml: %v", err)
		}
		env := envOf(t, "serve")
		web, ok := compose.Services["web"]
		if !ok || len(web.Environment) == 0 {
			t.Fatal("docker-compose.yml's web service sets no environment")
		}
		for name := range web.Environment {
			if !env[name] {
				t.Errorf("web sets %s, which `app serve` does not declare", name)
			}
		}
	})
}
