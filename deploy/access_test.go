package deploy

import (
	"net"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// networked is the part of docker-compose.yml about networks.
type networked struct {
	Services map[string]struct {
		Networks []string `yaml:"networks"`
	} `yaml:"services"`
	Networks map[string]struct {
		IPAM struct {
			Config []struct {
				Subnet string `yaml:"subnet"`
			} `yaml:"config"`
		} `yaml:"ipam"`
	} `yaml:"networks"`
}

// expand replaces ${VAR:-default} by its default, as compose does when VAR
// is unset.
func expand(s string) string {
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return s
		}
		j := strings.Index(s[i:], "}")
		if j < 0 {
			return s
		}
		_, def, _ := strings.Cut(s[i+2:i+j], ":-")
		s = s[:i] + def + s[i+j+1:]
	}
}

func TestComposeKeepsKeysInTheDatabaseAndTrustsOnlyNginx(t *testing.T) {
	c := loadCompose(t)
	web := serviceNamed(t, c, "web")
	if keys := web.Environment["API_KEYS_FILE"]; keys != "db" {
		t.Fatalf("the web service sets API_KEYS_FILE=%q, want db: the keys of every replica in the database", keys)
	}
	if strings.Contains(repoFile(t, "Dockerfile"), "keys.json") {
		t.Error("the Dockerfile puts a keys file into the image")
	}

	var n networked
	if err := yaml.Unmarshal([]byte(repoFile(t, "docker-compose.yml")), &n); err != nil {
		t.Fatal(err)
	}
	nginx := n.Services["nginx"].Networks
	if len(nginx) != 1 {
		t.Fatalf("nginx is on networks %v, want exactly one, shared with the app only", nginx)
	}
	front := nginx[0]
	if !slices.Contains(n.Services["web"].Networks, front) {
		t.Errorf("web is on %v, not on nginx's network %s", n.Services["web"].Networks, front)
	}
	for name, s := range n.Services {
		if name != "web" && name != "nginx" && slices.Contains(s.Networks, front) {
			t.Errorf("service %s is on nginx's network %s: it could forge X-Forwarded-For", name, front)
		}
	}
	cfg := n.Networks[front].IPAM.Config
	if len(cfg) != 1 {
		t.Fatalf("network %s has no fixed subnet: the app could not know whom to trust", front)
	}
	subnet, trusted := expand(cfg[0].Subnet), expand(web.Environment["TRUSTED_PROXIES"])
	if _, _, err := net.ParseCIDR(subnet); err != nil || trusted != subnet {
		t.Errorf("the app trusts %q for X-Forwarded-For, want exactly nginx's subnet %q", trusted, subnet)
	}
	if env := envExample(t); env["FRONT_SUBNET"] != subnet {
		t.Errorf(".env.example FRONT_SUBNET=%q, want the compose default %q", env["FRONT_SUBNET"], subnet)
	}
}
