package serve

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

func TestPutLabelSetsItAndDeleteClearsIt(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		s := newServer(t, st, &fakeModel{version: "v1"})
		p := postDigits(t, s, 4)[0]
		path := "/predictions/" + itoa(p.ID) + "/label"

		var d detail
		decode(t, do(t, s, http.MethodPut, path, "application/json", []byte(`{"label": 9}`)), http.StatusOK, &d)
		if d.ID != p.ID || d.Label == nil || *d.Label != 9 || d.LabelledAt == nil || d.Prediction != 4 {
			t.Fatalf("PUT answered %+v, want the record of %d labelled 9", d, p.ID)
		}
		var again detail
		decode(t, do(t, s, http.MethodPut, path, "", []byte(`{"label":9}`)), http.StatusOK, &again)
		if *again.Label != 9 || !again.LabelledAt.Equal(*d.LabelledAt) {
			t.Errorf("a second identical PUT changed the record: %+v, was %+v", again, d)
		}
		var read detail
		decode(t, do(t, s, http.MethodGet, "/predictions/"+itoa(p.ID), "", nil), http.StatusOK, &read)
		if read.Label == nil || *read.Label != 9 {
			t.Errorf("GET after PUT reads label %v, want 9", read.Label)
		}

		var cleared detail
		decode(t, do(t, s, http.MethodDelete, path, "", nil), http.StatusOK, &cleared)
		if cleared.Label != nil || cleared.LabelledAt != nil {
			t.Errorf("DELETE answered label %v at %v, want null", cleared.Label, cleared.LabelledAt)
		}
		rec := do(t, s, http.MethodGet, "/predictions/"+itoa(p.ID), "", nil)
		if !strings.Contains(rec.Body.String(), `"label":null`) {
			t.Errorf("GET after DELETE: %s, want label null", rec.Body.String())
		}
	})
}

func TestPutLabelRefusesBadInput(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, &fakeModel{version: "v"})
	p := postDigits(t, s, 2)[0]
	path := "/predictions/" + itoa(p.ID) + "/label"
	cases := []struct {
		name, path, ctype, body string
		status                  int
		wantMsg                 string
	}{
		{"a label above 9", path, "", `{"label": 10}`, 400, "integer 0..9, got 10"},
		{"a negative label", path, "", `{"label": -1}`, 400, "got -1"},
		{"a fractional label", path, "", `{"label": 3.5}`, 400, "got 3.5"},
		{"a label written as 3.0", path, "", `{"label": 3.0}`, 400, "got 3.0"},
		{"a label as a string", path, "", `{"label": "3"}`, 400, `got "3"`},
		{"a null label", path, "", `{"label": null}`, 400, "got null"},
		{"a missing label", path, "", `{"digit": 3}`, 400, `"label" is missing`},
		{"an extra field", path, "", `{"label": 3, "x": 1}`, 400, `unknown field "x"`},
		{"a body that is not JSON", path, "", `label=3`, 400, `{"label": D}`},
		{"a JSON array", path, "", `[3]`, 400, `{"label": D}`},
		{"an empty body", path, "", ``, 400, `{"label": D}`},
		{"a form body", path, "application/x-www-form-urlencoded", `label=3`, 415, "not supported"},
		{"an unknown id", "/predictions/987654/label", "", `{"label": 3}`, 404, "no prediction with id 987654"},
		{"an id that is not a number", "/predictions/x/label", "", `{"label": 3}`, 400, "prediction id must be"},
	}
	for _, tc := range cases {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			msg := errorOf(t, do(t, s, http.MethodPut, tc.path, tc.ctype, []byte(tc.body)), tc.status)
			if !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("error %q, want it to contain %q", msg, tc.wantMsg)
			}
		})
	}
	if msg := errorOf(t, do(t, s, http.MethodDelete, "/predictions/987654/label", "", nil), 404); !strings.Contains(msg, "987654") {
		t.Errorf("DELETE of an unknown id: %q", msg)
	}
	got, _ := st.Get(t.Context(), p.ID)
	if got.Label != nil {
		t.Errorf("a refused PUT stored label %d", *got.Label)
	}
}

func TestPredictionsFiltersLabelledAndWrong(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		s := newServer(t, st, &fakeModel{version: "v"})
		sent := postDigits(t, s, 1, 2, 3, 4)
		for i, label := range map[int]int{0: 1, 1: 7, 3: 5} { // 0 right, 1 and 3 wrong, 2 unlabelled
			body := []byte(`{"label": ` + itoa(int64(label)) + `}`)
			decode(t, do(t, s, http.MethodPut, "/predictions/"+itoa(sent[i].ID)+"/label", "", body), http.StatusOK, &detail{})
		}
		tests := []struct {
			query string
			want  []int
		}{
			{"", []int{3, 2, 1, 0}},
			{"?labelled=true", []int{3, 1, 0}},
			{"?labelled=false", []int{2}},
			{"?wrong=true", []int{3, 1}},
			{"?wrong=false", []int{0}},
			{"?wrong=true&limit=1", []int{3}},
			{"?labelled=true&before_id=" + itoa(sent[1].ID), []int{0}},
		}
		for _, tt := range tests {
			t.Run("/predictions"+tt.query, func(t *testing.T) {
				var l listing
				decode(t, do(t, s, http.MethodGet, "/predictions"+tt.query, "", nil), http.StatusOK, &l)
				if len(l.Predictions) != len(tt.want) {
					t.Fatalf("%d items, want %d: %+v", len(l.Predictions), len(tt.want), l.Predictions)
				}
				for i, w := range tt.want {
					if l.Predictions[i].ID != sent[w].ID {
						t.Errorf("item %d is id %d, want %d", i, l.Predictions[i].ID, sent[w].ID)
					}
				}
			})
		}
		var wrong listing
		decode(t, do(t, s, http.MethodGet, "/predictions?wrong=true&limit=1", "", nil), http.StatusOK, &wrong)
		if wrong.Predictions[0].Label == nil || *wrong.Predictions[0].Label != 5 || wrong.NextBeforeID == nil {
			t.Errorf("wrong=true&limit=1 = %+v next %v, want label 5 and a next page", wrong.Predictions, wrong.NextBeforeID)
		}
		for _, q := range []string{"labelled=yes", "wrong=1", "labelled="} {
			rec := do(t, s, http.MethodGet, "/predictions?"+q, "", nil)
			if q == "labelled=" {
				decode(t, rec, http.StatusOK, &listing{}) // empty means no filter
				continue
			}
			if msg := errorOf(t, rec, 400); !strings.Contains(msg, "must be true or false") {
				t.Errorf("%s: error %q", q, msg)
			}
		}
	})
}
