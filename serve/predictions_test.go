package serve

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// postDigits stores one prediction per digit in ds through the API and
// returns the answers.
func postDigits(t *testing.T, s *Server, ds ...int) []prediction {
	t.Helper()
	out := make([]prediction, len(ds))
	for i, d := range ds {
		var p prediction
		decode(t, do(t, s, http.MethodPost, "/predict", "application/json",
			mustJSON(t, map[string]any{"image": rows(digitImage(d))})), http.StatusOK, &p)
		out[i] = p
	}
	return out
}

func TestPredictionsPagesNewestFirst(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		s := newServer(t, st, &fakeModel{version: "fake-v2"})
		sent := postDigits(t, s, 1, 2, 3, 4, 5)

		var page1 listing
		decode(t, do(t, s, http.MethodGet, "/predictions?limit=2", "", nil), http.StatusOK, &page1)
		if len(page1.Predictions) != 2 || page1.Predictions[0].ID != sent[4].ID || page1.Predictions[1].ID != sent[3].ID {
			t.Fatalf("page 1 = %+v, want ids %d, %d", page1.Predictions, sent[4].ID, sent[3].ID)
		}
		first := page1.Predictions[0]
		if first.Prediction != 5 || first.Confidence != 0.91 || first.ModelVersion != "fake-v2" ||
			time.Since(first.CreatedAt) > time.Minute || time.Since(first.CreatedAt) < -time.Minute {
			t.Errorf("newest item %+v, want digit 5, 0.91, fake-v2, created just now", first)
		}
		if page1.NextBeforeID == nil || *page1.NextBeforeID != sent[3].ID {
			t.Fatalf("next_before_id %v, want %d", page1.NextBeforeID, sent[3].ID)
		}

		var page3 listing
		decode(t, do(t, s, http.MethodGet, "/predictions?limit=2&before_id="+itoa(sent[1].ID), "", nil), http.StatusOK, &page3)
		if len(page3.Predictions) != 1 || page3.Predictions[0].ID != sent[0].ID || page3.NextBeforeID != nil {
			t.Errorf("last page = %+v next %v, want only id %d and null", page3.Predictions, page3.NextBeforeID, sent[0].ID)
		}

		// Exactly limit rows left: no next page, so next_before_id is null.
		var all listing
		rec := do(t, s, http.MethodGet, "/predictions?limit=5", "", nil)
		decode(t, rec, http.StatusOK, &all)
		if len(all.Predictions) != 5 || all.NextBeforeID != nil || !strings.Contains(rec.Body.String(), `"next_before_id":null`) {
			t.Errorf("limit=5 of 5 rows: %s, want 5 items and next_before_id null", rec.Body.String())
		}
		if strings.Contains(rec.Body.String(), "probabilities") || strings.Contains(rec.Body.String(), "image") {
			t.Errorf("listing shows more than id, created_at, prediction, confidence and model_version: %s", rec.Body.String())
		}
	})
}

func TestPredictionsDefaultsTo50(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, &fakeModel{version: "v"})
	imgs := make([][]int, 51)
	for i := range imgs {
		imgs[i] = flat(digitImage(i % 10))
	}
	decode(t, do(t, s, http.MethodPost, "/predict/batch", "", mustJSON(t, map[string]any{"images": imgs})), http.StatusOK, &batchAnswer{})
	var l listing
	decode(t, do(t, s, http.MethodGet, "/predictions", "", nil), http.StatusOK, &l)
	if len(l.Predictions) != 50 || l.NextBeforeID == nil || *l.NextBeforeID != l.Predictions[49].ID {
		t.Errorf("%d items, next %v; want 50 and the id of the 50th", len(l.Predictions), l.NextBeforeID)
	}
}

func TestPredictionByID(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		s := newServer(t, st, &fakeModel{version: "fake-v3"})
		p := postDigits(t, s, 6)[0]
		var d detail
		decode(t, do(t, s, http.MethodGet, "/predictions/"+itoa(p.ID), "", nil), http.StatusOK, &d)
		if d.ID != p.ID || d.Prediction != 6 || d.Confidence != p.Confidence || d.Probabilities != p.Probabilities ||
			d.ModelVersion != "fake-v3" || d.ImageURL != "/predictions/"+itoa(p.ID)+"/image.png" || d.CreatedAt.IsZero() {
			t.Errorf("detail %+v, want the answer %+v with its image_url", d, p)
		}
	})
}

func TestPredictionsRefusesBadParameters(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, &fakeModel{version: "v"})
	postDigits(t, s, 1)
	cases := []struct {
		target  string
		status  int
		wantMsg string
	}{
		{"/predictions?limit=-1", 400, `limit must be an integer 1..500, got "-1"`},
		{"/predictions?limit=0", 400, "limit must be"},
		{"/predictions?limit=100000", 400, `got "100000"`},
		{"/predictions?limit=ten", 400, "limit must be"},
		{"/predictions?before_id=x", 400, `before_id must be a positive integer id, got "x"`},
		{"/predictions?before_id=0", 400, "before_id must be"},
		{"/predictions?limit=5;before_id=3", 400, "query string does not parse"},
		{"/predictions?limit=2&labelled=maybe%zz", 400, "query string does not parse"},
		{"/predictions/1/saliency.png?scale=9;x", 400, "query string does not parse"},
		{"/models/v/live?bucket=1h;x", 400, "query string does not parse"},
		{"/predictions/abc", 400, `prediction id must be a positive integer, got "abc"`},
		{"/predictions/0", 400, "prediction id must be"},
		{"/predictions/-4", 400, "prediction id must be"},
		{"/predictions/99999999999999999999", 400, "prediction id must be"},
		{"/predictions/abc/image.png", 400, "prediction id must be"},
		{"/predictions/987654", 404, "no prediction with id 987654"},
		{"/predictions/987654/image.png", 404, "no prediction with id 987654"},
		{"/no/such/route", 404, "no route for GET /no/such/route"},
	}
	for _, tc := range cases {
		t.Run(tc.target, func(t *testing.T) {
			msg := errorOf(t, do(t, s, http.MethodGet, tc.target, "", nil), tc.status)
			if !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("error %q, want it to contain %q", msg, tc.wantMsg)
			}
		})
	}
}
