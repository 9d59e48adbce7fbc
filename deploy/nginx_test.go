package deploy

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
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

// durationSeconds reads an nginx time such as 500ms, 2s or 1m.
func durationSeconds(tb testing.TB, v string) float64 {
	tb.Helper()
	units := []struct {
		suffix string
		sec    float64
	}{{"ms", 0.001}, {"s", 1}, {"m", 60}, {"h", 3600}, {"", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(v, u.suffix); ok {
			n, err := strconv.ParseFloat(num, 64)
			if err != nil {
				continue
			}
			return n * u.sec
		}
	}
	tb.Fatalf("%q is not an nginx time", v)
	return 0
}

// nginxBlock is one block of an nginx config: its directives (name to
// arguments; the last one wins) and the blocks inside it, by header
// ("server", "location = /predict", "map ...").
type nginxBlock struct {
	args   map[string][]string
	blocks map[string]*nginxBlock
}

// parseNginx reads an nginx config into its blocks, comments removed.
// Quoted strings are kept whole only as far as this config needs (no ; { }
// inside quotes).
func parseNginx(tb testing.TB, text string) *nginxBlock {
	tb.Helper()
	newBlock := func() *nginxBlock {
		return &nginxBlock{args: map[string][]string{}, blocks: map[string]*nginxBlock{}}
	}
	stack := []*nginxBlock{newBlock()}
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		for _, r := range line + " " {
			switch r {
			case ';', '{', '}':
				f := strings.Fields(cur.String())
				cur.Reset()
				top := stack[len(stack)-1]
				switch r {
				case ';':
					if len(f) > 0 {
						top.args[f[0]] = f[1:]
					}
				case '{':
					b := newBlock()
					top.blocks[strings.Join(f, " ")] = b
					stack = append(stack, b)
				case '}':
					if len(stack) == 1 {
						tb.Fatal("nginx config: unbalanced }")
					}
					stack = stack[:len(stack)-1]
				}
			default:
				cur.WriteRune(r)
			}
		}
	}
	if len(stack) != 1 {
		tb.Fatal("nginx config: a block is not closed")
	}
	return stack[0]
}

// nginxLocations returns, for the location of the prediction routes
// ("predict": location = /predict, which location = /predict/batch must
// equal) and for location / ("/"), the directives in force there: the
// server's, overridden by the location's own.
func nginxLocations(tb testing.TB, text string) map[string]map[string][]string {
	tb.Helper()
	server := parseNginx(tb, text).blocks["server"]
	if server == nil {
		tb.Fatal("nginx.conf has no server block")
	}
	in := func(header string) map[string][]string {
		loc := server.blocks[header]
		if loc == nil {
			tb.Fatalf("nginx.conf has no %q block", header)
		}
		m := maps.Clone(server.args)
		maps.Copy(m, loc.args)
		return m
	}
	out := map[string]map[string][]string{"/": in("location /"), "predict": in("location = /predict")}
	if batch := in("location = /predict/batch"); !maps.EqualFunc(batch, out["predict"], slices.Equal) {
		tb.Errorf("location = /predict/batch differs from location = /predict:\n%v\n%v", batch, out["predict"])
	}
	for header, loc := range server.blocks {
		if _, ok := loc.args["proxy_set_header"]; ok {
			tb.Errorf("%s sets proxy_set_header, which drops all of the server's (Authorization, X-Forwarded-For, Idempotency-Key)", header)
		}
	}
	return out
}

// TestNginxFailsOverFast checks the settings that keep a dead replica from
// holding or failing requests: the compose test (make compose-test)
// measures their effect; this catches a regression without Docker.
func TestNginxFailsOverFast(t *testing.T) {
	text := repoFile(t, "deploy/nginx.conf")
	top := parseNginx(t, text)
	headers := map[string]string{}
	for _, d := range directives(text) {
		if d[0] == "proxy_set_header" && len(d) == 3 {
			headers[d[1]] = d[2]
		}
	}
	locs := nginxLocations(t, text)
	for _, name := range []string{"/", "predict"} {
		args := locs[name]
		one := func(directive string) string {
			if len(args[directive]) == 0 {
				t.Fatalf("nginx.conf has no %s for %s", directive, name)
			}
			return args[directive][0]
		}
		next := args["proxy_next_upstream"]
		tests := []struct {
			name string
			ok   bool
			got  any
		}{
			{"proxy_connect_timeout is at most 1s (a dead replica's address never answers)",
				durationSeconds(t, one("proxy_connect_timeout")) <= 1, args["proxy_connect_timeout"]},
			{"the resolver is asked again within 2s (valid=), so a dead replica leaves the rotation",
				resolverValid(t, args["resolver"]) <= 2, args["resolver"]},
			{"proxy_next_upstream moves on after a connect error or timeout",
				contains(next, "error") && contains(next, "timeout"), next},
			{"proxy_next_upstream does not resend on the app's 503 (overload would multiply) or other answers",
				!slices.ContainsFunc(next, func(s string) bool { return strings.HasPrefix(s, "http_") || s == "invalid_header" }), next},
			{"only the prediction routes resend a POST that reached a replica",
				contains(next, "non_idempotent") == (name == "predict"), next},
			{"retries are bounded to 2s in all",
				durationSeconds(t, one("proxy_next_upstream_timeout")) <= 2 && one("proxy_next_upstream_timeout") != "0", args["proxy_next_upstream_timeout"]},
			{"retries are bounded in number",
				one("proxy_next_upstream_tries") != "0", args["proxy_next_upstream_tries"]},
		}
		for _, tt := range tests {
			if !tt.ok {
				t.Errorf("%s: %s: got %v", name, tt.name, tt.got)
			}
		}
	}

	t.Run("headers reach the app", func(t *testing.T) {
		for k, want := range map[string]string{
			"Authorization":   "$http_authorization",
			"X-Forwarded-For": "$remote_addr",
			"Idempotency-Key": "$idempotency_key",
		} {
			if headers[k] != want {
				t.Errorf("proxy_set_header %s %q, want %s", k, headers[k], want)
			}
		}
	})

	t.Run("a POST without a key gets one per request; the client's key is kept", func(t *testing.T) {
		m := top.blocks[`map "$request_method:$http_idempotency_key" $idempotency_key`]
		if m == nil {
			t.Fatalf("no map from $request_method:$http_idempotency_key to $idempotency_key; blocks: %v", slices.Collect(maps.Keys(top.blocks)))
		}
		if got := m.args["default"]; !slices.Equal(got, []string{"$http_idempotency_key"}) {
			t.Errorf("map default %v, want the client's $http_idempotency_key", got)
		}
		if got := m.args[`"POST:"`]; !slices.Equal(got, []string{"$request_id"}) {
			t.Errorf("map \"POST:\" %v, want $request_id", got)
		}
	})
}

// resolverValid returns the valid= of a resolver directive in seconds, or
// a large number when it has none (nginx then keeps answers for their TTL).
func resolverValid(tb testing.TB, args []string) float64 {
	tb.Helper()
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "valid="); ok {
			return durationSeconds(tb, v)
		}
	}
	return 1e9
}
