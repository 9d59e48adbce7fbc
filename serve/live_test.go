package serve

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// labelAt stores a prediction of digit by version made at t, labelled label.
func labelAt(tb testing.TB, st *store.Store, version string, t time.Time, digit, label int) {
	tb.Helper()
	p := storetest.Prediction(digit, byte(digit))
	p.ModelVersion, p.CreatedAt = version, t
	if err := st.Create(context.Background(), []*store.Prediction{p}); err != nil {
		tb.Fatal(err)
	}
	if _, err := st.SetLabel(context.Background(), p.ID, label); err != nil {
		tb.Fatal(err)
	}
}

func TestModelLiveCountsLabelsByTheTimeOfThePrediction(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		s := newServer(t, st, &fakeModel{version: "v2"})
		s.SetCatalog(&fakeCatalog{srv: s, versions: []string{"v2", "v1"}})
		t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
		labelAt(t, st, "v2", t0.Add(10*time.Minute), 3, 3)  // 08:00 bucket: right
		labelAt(t, st, "v2", t0.Add(50*time.Minute), 4, 9)  // 08:00 bucket: wrong
		labelAt(t, st, "v2", t0.Add(150*time.Minute), 5, 5) // 10:00 bucket: right
		labelAt(t, st, "v1", t0, 5, 6)                      // another model's

		var got liveSeries
		decode(t, do(t, s, http.MethodGet, "/models/v2/live?bucket=1h", "", nil), http.StatusOK, &got)
		if got.Version != "v2" || got.TestAccuracy == nil || *got.TestAccuracy != 0.5 || got.Bucket != "1h0m0s" || got.BucketSeconds != 3600 {
			t.Errorf("answer %+v, want v2 with the fake's test accuracy 0.5 in 1h buckets", got)
		}
		want := []livePoint{
			{Start: t0, Labelled: 2, Correct: 1, Accuracy: 0.5},
			{Start: t0.Add(2 * time.Hour), Labelled: 1, Correct: 1, Accuracy: 1},
		}
		if len(got.Points) != len(want) {
			t.Fatalf("points %+v, want %+v", got.Points, want)
		}
		for i, w := range want {
			if g := got.Points[i]; !g.Start.Equal(w.Start) || g.Labelled != w.Labelled || g.Correct != w.Correct || g.Accuracy != w.Accuracy {
				t.Errorf("point %d = %+v, want %+v", i, g, w)
			}
		}
		if got.Labelled != 3 || got.Correct != 2 || !sameFloat(got.Accuracy, ptr(2.0/3)) {
			t.Errorf("totals %d labelled, %d correct, accuracy %v; want 3, 2, 2/3", got.Labelled, got.Correct, got.Accuracy)
		}

		t.Run("without a bucket three labels make one point", func(t *testing.T) {
			var auto liveSeries
			decode(t, do(t, s, http.MethodGet, "/models/v2/live", "", nil), http.StatusOK, &auto)
			// Too few labels for 20 a bucket at any width: the widest.
			if auto.Bucket != "720h0m0s" || len(auto.Points) != 1 || auto.Points[0].Labelled != 3 {
				t.Errorf("bucket %s with points %+v, want 720h0m0s and one point of 3 labels", auto.Bucket, auto.Points)
			}
		})
		t.Run("a model with no labels yet has no points", func(t *testing.T) {
			s.SetCatalog(&fakeCatalog{srv: s, versions: []string{"v3", "v2", "v1"}})
			var none liveSeries
			rec := do(t, s, http.MethodGet, "/models/v3/live", "", nil)
			decode(t, rec, http.StatusOK, &none)
			if len(none.Points) != 0 || none.Accuracy != nil || !strings.Contains(rec.Body.String(), `"points":[]`) {
				t.Errorf("answer %s, want an empty list of points and a null accuracy", rec.Body.String())
			}
		})
		t.Run("a model the folder no longer holds still shows its labels", func(t *testing.T) {
			s.SetCatalog(&fakeCatalog{srv: s, versions: []string{"v2"}})
			var gone liveSeries
			decode(t, do(t, s, http.MethodGet, "/models/v1/live", "", nil), http.StatusOK, &gone)
			if gone.TestAccuracy != nil || gone.Labelled != 1 || gone.Correct != 0 {
				t.Errorf("answer %+v, want v1's one wrong label and no test accuracy", gone)
			}
		})
	})
}

func TestModelLiveChoosesABucketOfAboutTwentyLabels(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	spread := func(n int, span time.Duration) []store.Outcome {
		out := make([]store.Outcome, n)
		for i := range out {
			out[i].CreatedAt = t0.Add(time.Duration(i) * span / time.Duration(max(n-1, 1)))
		}
		return out
	}
	cases := []struct {
		name string
		n    int
		span time.Duration
		want time.Duration
	}{
		{"400 labels over two days fall in 6-hour buckets", 400, 48 * time.Hour, 6 * time.Hour},
		{"10,000 labels over a day fall in hourly buckets", 10000, 24 * time.Hour, time.Hour},
		{"100,000 labels over half an hour fall in minutes", 100000, 30 * time.Minute, time.Minute},
		{"one label falls in an hour", 1, 0, time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := autoBucket(spread(c.n, c.span)); got != c.want {
				t.Errorf("bucket %v, want %v", got, c.want)
			}
		})
	}
}

func TestModelLiveRefusesBadQuestions(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, &fakeModel{version: "v2"})
	s.SetCatalog(&fakeCatalog{srv: s, versions: []string{"v2"}})
	cases := []struct {
		name, target string
		status       int
		words        string
	}{
		{"a version neither held nor labelled", "/models/v9/live", 404, `no model with version "v9"`},
		{"a bucket that is not a duration", "/models/v2/live?bucket=hourly", 400, "bucket must be a duration"},
		{"a bucket under a minute", "/models/v2/live?bucket=30s", 400, "bucket must be a duration"},
		{"a bucket over a year", "/models/v2/live?bucket=9000h", 400, "bucket must be a duration"},
	}
	for _, c := range cases {
		t.Run(c.name+" is answered "+http.StatusText(c.status), func(t *testing.T) {
			if msg := errorOf(t, do(t, s, http.MethodGet, c.target, "", nil), c.status); !strings.Contains(msg, c.words) {
				t.Errorf("error %q, want it to say %q", msg, c.words)
			}
		})
	}
}
