package serve

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// scrape returns the /metrics text of s.
func scrape(tb testing.TB, s *Server) string {
	tb.Helper()
	rec := do(tb, s, http.MethodGet, "/metrics", "", nil)
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body.String())
	}
	return rec.Body.String()
}

// TestMetricsTheAlertRulesRead checks the series deploy/prometheus's rules
// are written over, each with the value the server's state gives it.
func TestMetricsTheAlertRulesRead(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		s := New(DefaultConfig(), st, nil) // with the default latency goal
		t.Cleanup(s.Close)
		s.SetModel(&fakeModel{version: "v1"})
		// Four predictions of 4, 5, 6 and 7; three labelled, two rightly.
		ps := postDigits(t, s, 4, 5, 6, 7)
		for i, label := range []int{4, 5, 0} {
			rec := do(t, s, http.MethodPut, "/predictions/"+itoa(ps[i].ID)+"/label", "application/json", []byte(`{"label": `+itoa(int64(label))+`}`))
			if rec.Code != http.StatusOK {
				t.Fatalf("label: %d %s", rec.Code, rec.Body.String())
			}
		}
		s.shed.add()
		s.shed.add()
		text := scrape(t, s)
		for _, want := range []string{
			"\ndatabase_up 1\n",
			"\npredict_shed_total 2\n",
			"\npredict_queue_latency_goal_seconds 0.05\n",
			"\nmodel_test_accuracy{version=\"v1\"} 0.5\n",
			"\nmodel_labelled_predictions{version=\"v1\"} 3\n",
			"\nmodel_live_accuracy{version=\"v1\"} 0.6666666666666666\n",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("/metrics lacks %q", strings.TrimSpace(want))
			}
		}
	})
}

func TestMetricsSayWhatIsMissing(t *testing.T) {
	t.Run("no model: no test accuracy", func(t *testing.T) {
		st, _ := storetest.Open(t, "sqlite")
		text := scrape(t, newServer(t, st, nil))
		if strings.Contains(text, "\nmodel_test_accuracy{") || !strings.Contains(text, "\nmodel_loaded 0\n") {
			t.Errorf("without a model, /metrics has a test accuracy or model_loaded is not 0:\n%s", grepLines(text, "model_"))
		}
		if strings.Contains(text, "\nmodel_live_accuracy{") {
			t.Error("an empty table gives a live accuracy")
		}
	})
	t.Run("a database that fails its ping is down, and no live accuracy is read", func(t *testing.T) {
		s := newServer(t, errStore{err: errors.New("connection refused")}, &fakeModel{version: "v1"})
		text := scrape(t, s)
		if !strings.Contains(text, "\ndatabase_up 0\n") {
			t.Errorf("database_up is not 0:\n%s", grepLines(text, "database_up"))
		}
		if strings.Contains(text, "model_live_accuracy{") {
			t.Error("a live accuracy without a database")
		}
		if !strings.Contains(text, "\nmodel_test_accuracy{version=\"v1\"} 0.5\n") {
			t.Error("the served model's test accuracy is missing while the database is down")
		}
	})
}

// grepLines returns the lines of text that contain sub.
func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
