package deploy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/serve"
	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// promDir holds Prometheus's config, rules and rule tests.
const promDir = "prometheus"

// ruleFile is the part of a rules file the tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record string `yaml:"record"`
			Alert  string `yaml:"alert"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// ruleTests is the part of a promtool rule test file the tests read.
type ruleTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		AlertRuleTest []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// promConfig is the part of prometheus.yml the tests read.
type promConfig struct {
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		Authorization struct {
			Type            string `yaml:"type"`
			CredentialsFile string `yaml:"credentials_file"`
		} `yaml:"authorization"`
		DNSSDConfigs []struct {
			Names []string `yaml:"names"`
			Type  string   `yaml:"type"`
			Port  int      `yaml:"port"`
		} `yaml:"dns_sd_configs"`
	} `yaml:"scrape_configs"`
}

func readYAML(tb testing.TB, name string, v any) {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		tb.Fatalf("parse %s: %v", name, err)
	}
}

func TestPrometheusRulesWithPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("SKIP: no promtool on PATH (apt-get install prometheus; .ci/run installs it), so deploy/prometheus's rules are not checked by it")
	}
	run := func(t *testing.T, dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Run("the rules are valid", func(t *testing.T) {
		run(t, promDir, "check", "rules", "rules.yml")
	})
	t.Run("the rules' unit tests pass", func(t *testing.T) {
		run(t, promDir, "test", "rules", "rules_test.yml")
	})
	t.Run("the config is valid", func(t *testing.T) {
		// A copy whose token file exists here; the real one is compose's secret.
		dir := t.TempDir()
		token := filepath.Join(dir, "token")
		writeFile(t, token, "a-token\n")
		conf := strings.ReplaceAll(readFile(t, filepath.Join(promDir, "prometheus.yml")), "/run/secrets/metrics_token", token)
		writeFile(t, filepath.Join(dir, "prometheus.yml"), conf)
		writeFile(t, filepath.Join(dir, "rules.yml"), readFile(t, filepath.Join(promDir, "rules.yml")))
		run(t, dir, "check", "config", "prometheus.yml")
	})
	t.Run("a rule test that expects the wrong thing fails, so the tests are run", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "rules.yml"), strings.Replace(readFile(t, filepath.Join(promDir, "rules.yml")),
			"job:http_error_ratio:rate5m > 0.01", "job:http_error_ratio:rate5m > 0.5", 1))
		writeFile(t, filepath.Join(dir, "rules_test.yml"), readFile(t, filepath.Join(promDir, "rules_test.yml")))
		cmd := exec.Command(promtool, "test", "rules", "rules_test.yml")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Fatalf("promtool passed rules whose error threshold no test case reaches:\n%s", out)
		}
	})
}

func readFile(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// TestPrometheusEveryAlertIsTestedBothWays reads the rule tests: each alert
// has a case where it fires and one where it does not.
func TestPrometheusEveryAlertIsTestedBothWays(t *testing.T) {
	var rules ruleFile
	readYAML(t, filepath.Join(promDir, "rules.yml"), &rules)
	var tests ruleTests
	readYAML(t, filepath.Join(promDir, "rules_test.yml"), &tests)
	if !slices.Contains(tests.RuleFiles, "rules.yml") {
		t.Fatalf("rules_test.yml tests %v, not rules.yml", tests.RuleFiles)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts = append(alerts, r.Alert)
			}
		}
	}
	want := []string{"MnistHighErrorRatio", "MnistShedding", "MnistSlowAdmittedRequests", "MnistNoModelLoaded",
		"MnistDatabaseDown", "MnistLiveAccuracyLow", "MnistReplicaDown"}
	for _, w := range want {
		if !slices.Contains(alerts, w) {
			t.Errorf("rules.yml has no alert %s", w)
		}
	}
	for _, a := range alerts {
		if !fires[a] || !quiet[a] {
			t.Errorf("alert %s: a case where it fires: %v, one where it does not: %v", a, fires[a], quiet[a])
		}
	}
}

var (
	promString   = regexp.MustCompile(`"[^"]*"`)
	promGrouping = regexp.MustCompile(`\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promWord     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	// PromQL's functions with an underscore, which are not series.
	promFuncs = map[string]bool{"histogram_quantile": true, "label_replace": true, "label_join": true, "absent_over_time": true,
		"max_over_time": true, "min_over_time": true, "avg_over_time": true, "sum_over_time": true, "count_over_time": true}
)

// TestPrometheusRulesReadSeriesTheServerHas scrapes the real server and
// checks that every series the rules read is one it exports (or up, which
// Prometheus makes), so that a renamed metric cannot leave an alert that
// never fires.
func TestPrometheusRulesReadSeriesTheServerHas(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	srv := serve.New(serve.DefaultConfig(), st, nil)
	defer srv.Close()
	// Series with labels appear once they have a value: a model served,
	// a request answered, a labelled prediction stored.
	srv.SetModel(fixedModel{})
	ctx := context.Background()
	p := storetest.Prediction(3, 1)
	if err := st.Create(ctx, []*store.Prediction{p}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetLabel(ctx, p.ID, 3); err != nil {
		t.Fatal(err)
	}
	srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	families := map[string]bool{"up": true}
	for _, l := range strings.Split(rec.Body.String(), "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			families[f[2]] = true
		}
	}
	var rules ruleFile
	readYAML(t, filepath.Join(promDir, "rules.yml"), &rules)
	recorded := map[string]bool{}
	read := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			expr := promGrouping.ReplaceAllString(promString.ReplaceAllString(r.Expr, ""), "")
			for _, w := range promWord.FindAllString(expr, -1) {
				if strings.Contains(w, ":") {
					if !recorded[w] {
						t.Errorf("%s%s reads %s, which no rule above it records", r.Record, r.Alert, w)
					}
					continue
				}
				if w != "up" && (!strings.Contains(w, "_") || promFuncs[w]) {
					continue
				}
				read++
				family := w
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					if base, ok := strings.CutSuffix(w, suffix); ok && families[base] {
						family = base
					}
				}
				if !families[family] {
					t.Errorf("%s%s reads %s, which /metrics does not export", r.Record, r.Alert, w)
				}
			}
			if r.Record != "" {
				recorded[r.Record] = true
			}
		}
	}
	if read < 8 {
		t.Errorf("found only %d series read by the rules: the expression reader is broken", read)
	}
}

// TestPrometheusScrapesEveryReplica checks prometheus.yml and its compose
// service against the web service: DNS discovery of web on its port, the
// admin token from the compose secret, the UI on 127.0.0.1 only, and a
// network shared with web but not nginx's.
func TestPrometheusScrapesEveryReplica(t *testing.T) {
	var cfg promConfig
	readYAML(t, filepath.Join(promDir, "prometheus.yml"), &cfg)
	c := loadCompose(t)
	web := serviceNamed(t, c, "web")
	if len(cfg.ScrapeConfigs) != 1 {
		t.Fatalf("prometheus.yml has %d scrape configs, want the web replicas' only", len(cfg.ScrapeConfigs))
	}
	sc := cfg.ScrapeConfigs[0]
	if sc.JobName != "mnist-web" || !strings.Contains(readFile(t, filepath.Join(promDir, "rules.yml")), `job="mnist-web"`) {
		t.Errorf("job %q: want mnist-web, the job the rules' up{job=...} names", sc.JobName)
	}
	if len(sc.DNSSDConfigs) != 1 || !slices.Equal(sc.DNSSDConfigs[0].Names, []string{"web"}) || sc.DNSSDConfigs[0].Type != "A" ||
		!contains(web.Expose, strconv.Itoa(sc.DNSSDConfigs[0].Port)) {
		t.Errorf("dns_sd_configs %+v: want the A records of web on its port %v", sc.DNSSDConfigs, web.Expose)
	}
	if sc.MetricsPath != "/metrics" || sc.Authorization.Type != "Bearer" {
		t.Errorf("scrapes %s with %q authorization, want /metrics with a Bearer token", sc.MetricsPath, sc.Authorization.Type)
	}
	for _, f := range cfg.RuleFiles {
		if _, err := os.Stat(filepath.Join(promDir, f)); err != nil {
			t.Errorf("rule file %s: %v", f, err)
		}
	}

	var svc struct {
		Services struct {
			Prometheus struct {
				Command  []string `yaml:"command"`
				Volumes  []string `yaml:"volumes"`
				Secrets  []string `yaml:"secrets"`
				Ports    []string `yaml:"ports"`
				Networks []string `yaml:"networks"`
			} `yaml:"prometheus"`
			Web struct {
				Networks []string `yaml:"networks"`
			} `yaml:"web"`
			Nginx struct {
				Networks []string `yaml:"networks"`
			} `yaml:"nginx"`
		} `yaml:"services"`
		Secrets map[string]struct {
			File string `yaml:"file"`
		} `yaml:"secrets"`
	}
	if err := yaml.Unmarshal([]byte(repoFile(t, "docker-compose.yml")), &svc); err != nil {
		t.Fatal(err)
	}
	p := svc.Services.Prometheus
	if !contains(p.Volumes, "./deploy/prometheus:/etc/prometheus:ro") || !contains(p.Command, "--config.file=/etc/prometheus/prometheus.yml") {
		t.Errorf("prometheus mounts %v with command %v: want deploy/prometheus read-only as its config", p.Volumes, p.Command)
	}
	if len(p.Secrets) != 1 || sc.Authorization.CredentialsFile != "/run/secrets/"+p.Secrets[0] || svc.Secrets[p.Secrets[0]].File == "" {
		t.Errorf("the token file %q is not the compose secret %v", sc.Authorization.CredentialsFile, p.Secrets)
	}
	for _, port := range p.Ports {
		if !strings.HasPrefix(port, "127.0.0.1:") {
			t.Errorf("prometheus publishes %q beyond 127.0.0.1", port)
		}
	}
	shared := false
	for _, n := range p.Networks {
		shared = shared || slices.Contains(svc.Services.Web.Networks, n)
		if slices.Contains(svc.Services.Nginx.Networks, n) {
			t.Errorf("prometheus is on nginx's network %s", n)
		}
	}
	if !shared {
		t.Errorf("prometheus's networks %v share none with web's %v", p.Networks, svc.Services.Web.Networks)
	}
	if !containsLine(repoFile(t, ".gitignore"), "/metrics-token") || !containsLine(repoFile(t, ".dockerignore"), "metrics-token") {
		t.Error("the token file metrics-token is not kept out of git and the image")
	}
}

// fixedModel is a served model that answers 0 for every image.
type fixedModel struct{}

func (fixedModel) Predict(_ context.Context, images [][]byte) ([][model.Classes]float32, error) {
	out := make([][model.Classes]float32, len(images))
	for i := range out {
		out[i][0] = 1
	}
	return out, nil
}

func (fixedModel) Meta() model.Meta { return model.Meta{Version: "fixed", TestAccuracy: 0.99} }
