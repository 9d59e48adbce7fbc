package serve

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// fakeCatalog is a folder of fake models whose promote and rollback serve
// the model they pin on srv, as the keeper of `app serve` does.
type fakeCatalog struct {
	srv      *Server
	versions []string // newest first
	pinned   string
	history  []string // versions served before each promote
}

func (f *fakeCatalog) Models() ([]model.Meta, string, error) {
	var out []model.Meta
	for _, v := range f.versions {
		out = append(out, (&fakeModel{version: v}).Meta())
	}
	return out, f.pinned, nil
}

func (f *fakeCatalog) Promote(v string) error {
	for _, have := range f.versions {
		if have == v {
			m, _ := f.srv.currentModel()
			f.history = append(f.history, m.Meta().Version)
			f.pinned = v
			f.srv.SetModel(&fakeModel{version: v})
			return nil
		}
	}
	return fmt.Errorf("fake: %w", model.ErrUnknownVersion)
}

func (f *fakeCatalog) Rollback() (string, error) {
	if len(f.history) == 0 {
		return "", model.ErrNothingToRollBack
	}
	v := f.history[len(f.history)-1]
	f.history = f.history[:len(f.history)-1]
	f.pinned = v
	f.srv.SetModel(&fakeModel{version: v})
	return v, nil
}

// label stores a prediction of digit by version, labelled label.
func label(tb testing.TB, st *store.Store, version string, digit, label int) {
	tb.Helper()
	p := storetest.Prediction(digit, byte(digit))
	p.ModelVersion = version
	if err := st.Create(tb.Context(), []*store.Prediction{p}); err != nil {
		tb.Fatal(err)
	}
	if _, err := st.SetLabel(tb.Context(), p.ID, label); err != nil {
		tb.Fatal(err)
	}
}

func TestModelsListsEveryModelWithLiveAccuracy(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		s := newServer(t, st, &fakeModel{version: "v2"})
		s.SetCatalog(&fakeCatalog{srv: s, versions: []string{"v3", "v2", "v1"}, pinned: "v2"})
		label(t, st, "v2", 3, 3)
		label(t, st, "v2", 4, 4)
		label(t, st, "v2", 5, 8)
		label(t, st, "v1", 5, 6)

		var l modelList
		rec := do(t, s, http.MethodGet, "/models", "", nil)
		decode(t, rec, http.StatusOK, &l)
		if len(l.Models) != 3 {
			t.Fatalf("%d models, want 3: %s", len(l.Models), rec.Body.String())
		}
		want := []struct {
			version           string
			served, pinned    bool
			labelled, correct int64
			accuracy          *float64
		}{
			{"v3", false, false, 0, 0, nil},
			{"v2", true, true, 3, 2, ptr(2.0 / 3)},
			{"v1", false, false, 1, 0, ptr(0)},
		}
		for i, w := range want {
			g := l.Models[i]
			if g.Version != w.version || g.Served != w.served || g.Pinned != w.pinned ||
				g.Live.Labelled != w.labelled || g.Live.Correct != w.correct || !sameFloat(g.Live.Accuracy, w.accuracy) {
				t.Errorf("model %d = %+v, want %+v", i, g, w)
			}
		}
		body := rec.Body.String()
		for _, field := range []string{`"test_accuracy":`, `"weights_sha256":`, `"accuracy":null`, `"served":true`} {
			if !strings.Contains(body, field) {
				t.Errorf("GET /models lacks %s: %s", field, body)
			}
		}
	})
}

func TestPromoteAndRollbackMoveTheServedModel(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, &fakeModel{version: "v1"})
	s.SetCatalog(&fakeCatalog{srv: s, versions: []string{"v2", "v1"}})

	var a pinAnswer
	decode(t, do(t, s, http.MethodPost, "/models/v2/promote", "", nil), http.StatusOK, &a)
	if a.Pinned != "v2" || a.Served != "v2" {
		t.Errorf("promote answered %+v, want v2 pinned and served", a)
	}
	if p := postDigits(t, s, 3)[0]; p.ModelVersion != "v2" {
		t.Errorf("after promote a prediction came from %s", p.ModelVersion)
	}
	decode(t, do(t, s, http.MethodPost, "/models/rollback", "", nil), http.StatusOK, &a)
	if a.Pinned != "v1" || a.Served != "v1" {
		t.Errorf("rollback answered %+v, want v1", a)
	}
	cases := []struct {
		name, target string
		status       int
		wantMsg      string
	}{
		{"promoting an unknown version is 404", "/models/v9/promote", 404, `no valid model with version "v9"`},
		{"rolling back with nothing promoted is 409", "/models/rollback", 409, "no promote to roll back"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if msg := errorOf(t, do(t, s, http.MethodPost, tc.target, "", nil), tc.status); !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("error %q, want %q", msg, tc.wantMsg)
			}
		})
	}
	if msg := errorOf(t, do(t, s, http.MethodGet, "/models/rollback", "", nil), 405); !strings.Contains(msg, "not allowed") {
		t.Errorf("GET /models/rollback: %q", msg)
	}
}

func TestModelsWithoutAFolderIs503(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, &fakeModel{version: "v1"})
	for _, r := range [][2]string{{http.MethodGet, "/models"}, {http.MethodPost, "/models/v1/promote"}, {http.MethodPost, "/models/rollback"}} {
		errorOf(t, do(t, s, r[0], r[1], "", nil), http.StatusServiceUnavailable)
	}
}

func ptr(f float64) *float64 { return &f }

func sameFloat(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a-*b < 1e-9 && *b-*a < 1e-9
}
