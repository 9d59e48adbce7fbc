package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

func TestSetLabelStoresItAndReadsItBack(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		p := storetest.Prediction(7, 1)
		if err := s.Create(ctx, []*store.Prediction{p}); err != nil {
			t.Fatal(err)
		}
		before := time.Now().Add(-time.Second)
		got, err := s.SetLabel(ctx, p.ID, 1)
		if err != nil {
			t.Fatalf("SetLabel: %v", err)
		}
		if got.Label == nil || *got.Label != 1 || got.LabelledAt == nil || got.LabelledAt.Before(before) {
			t.Fatalf("after SetLabel(1): label %v, labelled_at %v; want 1 and a time after %v", got.Label, got.LabelledAt, before)
		}
		if got.Prediction != 7 || len(got.Image) != 784 {
			t.Errorf("SetLabel changed the prediction or lost the image: %+v", got)
		}

		t.Run("the same label again keeps the time it was first given", func(t *testing.T) {
			time.Sleep(5 * time.Millisecond)
			again, err := s.SetLabel(ctx, p.ID, 1)
			if err != nil {
				t.Fatal(err)
			}
			if !again.LabelledAt.Equal(*got.LabelledAt) {
				t.Errorf("labelled_at moved from %v to %v on an identical PUT", got.LabelledAt, again.LabelledAt)
			}
		})
		t.Run("another label replaces it with a new time", func(t *testing.T) {
			time.Sleep(5 * time.Millisecond)
			other, err := s.SetLabel(ctx, p.ID, 9)
			if err != nil {
				t.Fatal(err)
			}
			if *other.Label != 9 || !other.LabelledAt.After(*got.LabelledAt) {
				t.Errorf("after relabelling: label %d at %v, want 9 after %v", *other.Label, other.LabelledAt, got.LabelledAt)
			}
		})
		t.Run("clearing removes label and time", func(t *testing.T) {
			cleared, err := s.ClearLabel(ctx, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if cleared.Label != nil || cleared.LabelledAt != nil {
				t.Errorf("after ClearLabel: label %v at %v, want both nil", cleared.Label, cleared.LabelledAt)
			}
			read, _ := s.Get(ctx, p.ID)
			if read.Label != nil {
				t.Errorf("Get after ClearLabel reads label %d", *read.Label)
			}
		})
		t.Run("an unknown id is not found", func(t *testing.T) {
			if _, err := s.SetLabel(ctx, p.ID+1000, 3); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("SetLabel(unknown) error = %v, want ErrNotFound", err)
			}
			if _, err := s.ClearLabel(ctx, p.ID+1000); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("ClearLabel(unknown) error = %v, want ErrNotFound", err)
			}
		})
		t.Run("a label outside 0..9 is refused", func(t *testing.T) {
			for _, l := range []int{-1, 10} {
				if _, err := s.SetLabel(ctx, p.ID, l); err == nil {
					t.Errorf("SetLabel(%d) succeeded", l)
				}
			}
		})
	})
}

// labelled stores predictions (digit, label) and returns their ids; label -1
// leaves a row unlabelled.
func labelled(tb testing.TB, s *store.Store, rows [][3]any) []int64 {
	tb.Helper()
	ctx := context.Background()
	var ids []int64
	for i, r := range rows {
		p := storetest.Prediction(r[0].(int), byte(i))
		p.ModelVersion = r[2].(string)
		if err := s.Create(ctx, []*store.Prediction{p}); err != nil {
			tb.Fatal(err)
		}
		if l := r[1].(int); l >= 0 {
			if _, err := s.SetLabel(ctx, p.ID, l); err != nil {
				tb.Fatal(err)
			}
		}
		ids = append(ids, p.ID)
	}
	return ids
}

func TestListFiltersByLabelAndWrongness(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ids := labelled(t, s, [][3]any{
			{3, 3, "a"},  // 0: right
			{4, 9, "a"},  // 1: wrong
			{5, -1, "a"}, // 2: unlabelled
			{6, 1, "b"},  // 3: wrong
			{7, 7, "b"},  // 4: right
			{8, -1, "b"}, // 5: unlabelled
		})
		yes, no := true, false
		tests := []struct {
			name string
			q    store.ListQuery
			want []int
		}{
			{"no filter lists all, newest first", store.ListQuery{Limit: 10}, []int{5, 4, 3, 2, 1, 0}},
			{"labelled=true lists labelled rows", store.ListQuery{Limit: 10, Labelled: &yes}, []int{4, 3, 1, 0}},
			{"labelled=false lists unlabelled rows", store.ListQuery{Limit: 10, Labelled: &no}, []int{5, 2}},
			{"wrong=true lists rows whose label differs", store.ListQuery{Limit: 10, Wrong: &yes}, []int{3, 1}},
			{"wrong=false lists rows labelled right", store.ListQuery{Limit: 10, Wrong: &no}, []int{4, 0}},
			{"filters page with before_id", store.ListQuery{Limit: 1, Wrong: &yes, BeforeID: ids[3]}, []int{1}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ps, err := s.List(context.Background(), tt.q)
				if err != nil {
					t.Fatal(err)
				}
				var got []int64
				for _, p := range ps {
					got = append(got, p.ID)
				}
				var want []int64
				for _, i := range tt.want {
					want = append(want, ids[i])
				}
				if len(got) != len(want) {
					t.Fatalf("ids %v, want %v", got, want)
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("ids %v, want %v", got, want)
					}
				}
			})
		}
		ps, _ := s.List(context.Background(), store.ListQuery{Limit: 10, Wrong: &yes})
		if ps[0].Label == nil || *ps[0].Label != 1 || ps[0].LabelledAt == nil {
			t.Errorf("List does not read the label back: %+v", ps[0])
		}
	})
}

func TestLiveAccuracyCountsLabelledRowsPerModel(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		live, err := s.LiveAccuracy(ctx)
		if err != nil || len(live) != 0 {
			t.Fatalf("LiveAccuracy of an empty table = %v, %v; want nothing", live, err)
		}
		labelled(t, s, [][3]any{
			{3, 3, "a"}, {4, 9, "a"}, {5, 5, "a"}, {5, -1, "a"},
			{6, 1, "b"}, {8, -1, "b"},
			{1, -1, "c"},
		})
		live, err = s.LiveAccuracy(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]store.Live{"a": {Labelled: 3, Correct: 2}, "b": {Labelled: 1, Correct: 0}}
		if len(live) != len(want) || live["a"] != want["a"] || live["b"] != want["b"] {
			t.Errorf("LiveAccuracy = %+v, want %+v", live, want)
		}
		if a := live["a"].Accuracy(); a == nil || *a != 2.0/3 {
			t.Errorf("accuracy of a = %v, want 2/3", a)
		}
		if a := live["c"].Accuracy(); a != nil {
			t.Errorf("accuracy of a model with no labels = %v, want nil", *a)
		}
	})
}

func TestLabelledReturnsImagesAndLabelsByID(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ids := labelled(t, s, [][3]any{{3, 8, "a"}, {4, -1, "a"}, {5, 2, "b"}})
		ex, err := s.Labelled(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(ex) != 2 || ex[0].ID != ids[0] || ex[0].Label != 8 || ex[1].ID != ids[2] || ex[1].Label != 2 {
			t.Fatalf("Labelled = %+v, want ids %d (8) and %d (2)", ex, ids[0], ids[2])
		}
		want := storetest.Prediction(5, 2).Image
		for i := range want {
			if ex[1].Image[i] != want[i] {
				t.Fatalf("image of %d differs at byte %d", ex[1].ID, i)
			}
		}
	})
}
