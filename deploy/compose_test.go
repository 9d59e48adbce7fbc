package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeFile is the part of docker-compose.yml the tests look at.
type composeFile struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

type service struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Expose      []string          `yaml:"expose"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   dependsOn         `yaml:"depends_on"`
	Healthcheck struct {
		Test stringOrList `yaml:"test"`
	} `yaml:"healthcheck"`
	Restart string `yaml:"restart"`
}

// dependsOn maps a service to its start condition; compose allows both a
// plain list (condition service_started) and a map with conditions.
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = dependsOn{}
	switch n.Kind {
	case yaml.SequenceNode:
		var names []string
		if err := n.Decode(&names); err != nil {
			return err
		}
		for _, name := range names {
			(*d)[name] = "service_started"
		}
	case yaml.MappingNode:
		var m map[string]struct {
			Condition string `yaml:"condition"`
		}
		if err := n.Decode(&m); err != nil {
			return err
		}
		for name, v := range m {
			(*d)[name] = v.Condition
		}
	default:
		return fmt.Errorf("line %d: depends_on must be a list or a map", n.Line)
	}
	return nil
}

// stringOrList holds a healthcheck test, written either as one string or as
// an exec list.
type stringOrList []string

func (s *stringOrList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = stringOrList{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

// repoFile reads a file at the top of the repository, one folder up.
func repoFile(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", name))
	if err != nil {
		tb.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

func loadCompose(tb testing.TB) composeFile {
	tb.Helper()
	var c composeFile
	if err := yaml.Unmarshal([]byte(repoFile(tb, "docker-compose.yml")), &c); err != nil {
		tb.Fatalf("parse docker-compose.yml: %v", err)
	}
	return c
}

func serviceNamed(tb testing.TB, c composeFile, name string) service {
	tb.Helper()
	s, ok := c.Services[name]
	if !ok {
		tb.Fatalf("docker-compose.yml has no service %q", name)
	}
	return s
}

// mountOf returns the source mounted at target in s, or "".
func mountOf(s service, target string) string {
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == target {
			return parts[0]
		}
	}
	return ""
}

// varRef matches ${VAR} and ${VAR:-default} but not the $${VAR} that compose
// leaves to the container's shell.
var varRef = regexp.MustCompile(`(^|[^$])\$\{([A-Za-z_][A-Za-z0-9_]*)`)

func composeVars(text string) []string {
	seen := map[string]bool{}
	for _, m := range varRef.FindAllStringSubmatch(text, -1) {
		seen[m[2]] = true
	}
	vars := make([]string, 0, len(seen))
	for v := range seen {
		vars = append(vars, v)
	}
	sort.Strings(vars)
	return vars
}

// envExample parses .env.example as KEY=VALUE lines.
func envExample(tb testing.TB) map[string]string {
	tb.Helper()
	env := map[string]string{}
	for i, line := range strings.Split(repoFile(tb, ".env.example"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			tb.Fatalf(".env.example line %d is not KEY=VALUE: %q", i+1, line)
		}
		env[k] = v
	}
	return env
}

func TestComposeHasTheServicesOfTheDeployment(t *testing.T) {
	c := loadCompose(t)
	for _, name := range []string{"db", "pgadmin", "web", "nginx", "prometheus"} {
		serviceNamed(t, c, name)
	}

	t.Run("db is postgres 14 with a named data volume and a pg_isready healthcheck", func(t *testing.T) {
		db := serviceNamed(t, c, "db")
		if db.Image != "postgres:14" {
			t.Errorf("db image %q, want postgres:14", db.Image)
		}
		if src := mountOf(db, "/var/lib/postgresql/data"); c.Volumes == nil || src == "" || !hasKey(c.Volumes, src) {
			t.Errorf("db mounts %q on /var/lib/postgresql/data, want a named volume declared at the top", src)
		}
		if hc := strings.Join(db.Healthcheck.Test, " "); !strings.Contains(hc, "pg_isready") {
			t.Errorf("db healthcheck %q does not use pg_isready", hc)
		}
		for _, k := range []string{"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"} {
			if v := db.Environment[k]; v != "${"+k+"}" {
				t.Errorf("db %s = %q, want ${%s} from .env", k, v, k)
			}
		}
	})

	t.Run("web waits for a healthy db and reaches it by a URL built from variables", func(t *testing.T) {
		web := serviceNamed(t, c, "web")
		if web.Build == nil {
			t.Error("web has no build: it must be built from the Dockerfile")
		}
		if cond := web.DependsOn["db"]; cond != "service_healthy" {
			t.Errorf("web depends_on db with condition %q, want service_healthy", cond)
		}
		url := web.Environment["DATABASE_URL"]
		want := "postgres://${POSTGRES_USER}:${POSTGRES_PASSWORD}@db:5432/${POSTGRES_DB}"
		if !strings.HasPrefix(url, want) {
			t.Errorf("web DATABASE_URL %q, want it to start with %q", url, want)
		}
		if hc := strings.Join(web.Healthcheck.Test, " "); !strings.Contains(hc, "/app healthcheck") {
			t.Errorf("web healthcheck %q does not run /app healthcheck", hc)
		}
	})

	t.Run("web replicas share no volume: models and keys are in the database", func(t *testing.T) {
		web := serviceNamed(t, c, "web")
		for _, v := range web.Volumes {
			t.Errorf("web mounts %q: every replica would share it; models and keys belong in the database", v)
		}
		for _, k := range []string{"MODEL_DIR", "API_KEYS_FILE"} {
			if v := web.Environment[k]; v != "db" {
				t.Errorf("web %s=%q, want db", k, v)
			}
		}
	})

	t.Run("web publishes no host port so that it can be scaled", func(t *testing.T) {
		web := serviceNamed(t, c, "web")
		if len(web.Ports) > 0 {
			t.Errorf("web publishes %v; replicas would clash, let nginx publish", web.Ports)
		}
		if !contains(web.Expose, "5000") {
			t.Errorf("web exposes %v, want 5000", web.Expose)
		}
	})

	t.Run("nginx publishes 80 (or NGINX_PORT) with the repository's config read-only", func(t *testing.T) {
		nginx := serviceNamed(t, c, "nginx")
		if !contains(nginx.Ports, "${NGINX_PORT:-80}:80") {
			t.Errorf("nginx ports %v, want ${NGINX_PORT:-80}:80", nginx.Ports)
		}
		src := mountOf(nginx, "/etc/nginx/conf.d/default.conf")
		if filepath.Clean(src) != "deploy/nginx.conf" {
			t.Errorf("nginx mounts %q as its server config, want ./deploy/nginx.conf", src)
		}
		if !volumeReadOnly(nginx, "/etc/nginx/conf.d/default.conf") {
			t.Error("nginx config is mounted writable, want :ro")
		}
		if _, ok := nginx.DependsOn["web"]; !ok {
			t.Error("nginx does not depend on web")
		}
	})

	t.Run("pgadmin publishes 5050 on 127.0.0.1 only and depends on db", func(t *testing.T) {
		pg := serviceNamed(t, c, "pgadmin")
		if !contains(pg.Ports, "127.0.0.1:${PGADMIN_PORT:-5050}:80") {
			t.Errorf("pgadmin ports %v, want 127.0.0.1:${PGADMIN_PORT:-5050}:80", pg.Ports)
		}
		if _, ok := pg.DependsOn["db"]; !ok {
			t.Error("pgadmin does not depend on db")
		}
	})
}

func TestComposePublishesOnlyNginxBeyondLoopback(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		for _, p := range s.Ports {
			loopback := strings.HasPrefix(p, "127.0.0.1:")
			switch {
			case name == "db":
				t.Errorf("db publishes %q: the database must be reached on the compose network only", p)
			case name != "nginx" && !loopback:
				t.Errorf("service %s publishes %q beyond 127.0.0.1", name, p)
			}
		}
	}
}

// TestComposeCIOverrideOnlyShortensTheTest checks docker-compose.ci.yml, the
// compose test's additions: it must not change what is deployed beyond the
// training length and health-check pace, and publishes nothing itself.
func TestComposeCIOverrideOnlyShortensTheTest(t *testing.T) {
	var ci composeFile
	if err := yaml.Unmarshal([]byte(repoFile(t, "docker-compose.ci.yml")), &ci); err != nil {
		t.Fatalf("parse docker-compose.ci.yml: %v", err)
	}
	base := loadCompose(t)
	for name, s := range ci.Services {
		if _, ok := base.Services[name]; !ok {
			t.Errorf("docker-compose.ci.yml adds service %q, which docker-compose.yml lacks", name)
		}
		if len(s.Ports) > 0 || len(s.Volumes) > 0 || len(s.Environment) > 0 || s.Image != "" || s.Build != nil {
			t.Errorf("docker-compose.ci.yml changes %s beyond command and healthcheck", name)
		}
	}
	var web struct {
		Services struct {
			Web struct {
				Command []string `yaml:"command"`
			} `yaml:"web"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(repoFile(t, "docker-compose.ci.yml")), &web); err != nil {
		t.Fatalf("parse docker-compose.ci.yml: %v", err)
	}
	cmd := strings.Join(web.Services.Web.Command, " ")
	for _, want := range []string{"serve", "--train-epochs 1", "--train-limit"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("web command %q in docker-compose.ci.yml lacks %q", cmd, want)
		}
	}
}

func TestComposeNamedVolumesAreDeclaredAndUsed(t *testing.T) {
	c := loadCompose(t)
	used := map[string]bool{}
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				continue // a bind mount, not a named volume
			}
			if !hasKey(c.Volumes, src) {
				t.Errorf("service %s uses volume %q, which is not declared at the top", name, src)
			}
			used[src] = true
		}
	}
	for v := range c.Volumes {
		if !used[v] {
			t.Errorf("volume %q is declared but no service uses it", v)
		}
	}
	for _, want := range []string{"pgdata", "prometheus"} {
		if !hasKey(c.Volumes, want) {
			t.Errorf("no named volume %q", want)
		}
	}
}

func TestComposeSecretsComeFromEnv(t *testing.T) {
	text := repoFile(t, "docker-compose.yml")
	env := envExample(t)

	t.Run(".env.example defines every variable the compose file uses", func(t *testing.T) {
		vars := composeVars(text)
		if len(vars) == 0 {
			t.Fatal("docker-compose.yml uses no ${VAR}: where do its secrets come from?")
		}
		for _, v := range vars {
			if _, ok := env[v]; !ok {
				t.Errorf("docker-compose.yml uses ${%s}, which .env.example does not define", v)
			}
		}
	})

	t.Run("no password value is written in the compose file", func(t *testing.T) {
		c := loadCompose(t)
		for name, s := range c.Services {
			for k, v := range s.Environment {
				if strings.Contains(k, "PASSWORD") && !strings.HasPrefix(v, "${") {
					t.Errorf("service %s sets %s to a literal, want ${VAR}", name, k)
				}
			}
		}
		for k, v := range env {
			if strings.Contains(k, "PASSWORD") && v != "" && strings.Contains(text, v) {
				t.Errorf("the value of %s from .env.example is written in docker-compose.yml", k)
			}
		}
	})

	t.Run(".env is git-ignored and kept out of the image", func(t *testing.T) {
		if !containsLine(repoFile(t, ".gitignore"), "/.env", ".env") {
			t.Error(".gitignore does not ignore .env")
		}
		if !containsLine(repoFile(t, ".dockerignore"), ".env") {
			t.Error(".dockerignore does not keep .env out of the build context")
		}
	})
}

func hasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return k != "" && ok
}

func contains(list []string, want string) bool {
	for _, s := range list {
		if s == want {
			return true
		}
	}
	return false
}

// containsLine reports whether text has a line equal to one of wants.
func containsLine(text string, wants ...string) bool {
	for _, line := range strings.Split(text, "\n") {
		if contains(wants, strings.TrimSpace(line)) {
			return true
		}
	}
	return false
}

func volumeReadOnly(s service, target string) bool {
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) == 3 && parts[1] == target {
			return strings.Contains(parts[2], "ro")
		}
	}
	return false
}
