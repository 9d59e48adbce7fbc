package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

func TestOutcomesListALabelledModelsPredictionsOldestFirst(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
		// v1: right at t0, wrong at t0+2h, unlabelled at t0+3h, right at t0+1h;
		// v2: one wrong prediction.
		for _, r := range []struct {
			version    string
			at         time.Duration
			digit, lbl int
			labelled   bool
		}{
			{"v1", 0, 3, 3, true},
			{"v1", 2 * time.Hour, 4, 9, true},
			{"v1", 3 * time.Hour, 5, 0, false},
			{"v1", time.Hour, 6, 6, true},
			{"v2", 0, 1, 7, true},
		} {
			p := storetest.Prediction(r.digit, byte(r.digit))
			p.ModelVersion, p.CreatedAt = r.version, t0.Add(r.at)
			if err := s.Create(ctx, []*store.Prediction{p}); err != nil {
				t.Fatal(err)
			}
			if r.labelled {
				if _, err := s.SetLabel(ctx, p.ID, r.lbl); err != nil {
					t.Fatal(err)
				}
			}
		}
		got, err := s.Outcomes(ctx, "v1", 100)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.Outcome{{CreatedAt: t0, Correct: true}, {CreatedAt: t0.Add(time.Hour), Correct: true}, {CreatedAt: t0.Add(2 * time.Hour), Correct: false}}
		if len(got) != len(want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		for i := range want {
			if !got[i].CreatedAt.Equal(want[i].CreatedAt) || got[i].Correct != want[i].Correct {
				t.Errorf("outcome %d is %+v, want %+v", i, got[i], want[i])
			}
		}
		t.Run("the limit keeps the newest", func(t *testing.T) {
			got, err := s.Outcomes(ctx, "v1", 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || !got[0].CreatedAt.Equal(t0.Add(time.Hour)) || !got[1].CreatedAt.Equal(t0.Add(2*time.Hour)) {
				t.Errorf("got %+v, want the outcomes at t0+1h and t0+2h", got)
			}
		})
		t.Run("a version with no labels has none", func(t *testing.T) {
			got, err := s.Outcomes(ctx, "v3", 100)
			if err != nil || len(got) != 0 {
				t.Errorf("got %+v, %v; want nothing", got, err)
			}
		})
	})
}
