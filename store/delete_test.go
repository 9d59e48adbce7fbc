package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

func TestListKeepsOnlyTheClientsRows(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice, bob := "alice", "bob"
		ps := []*store.Prediction{storetest.Prediction(1, 1), storetest.Prediction(2, 2), storetest.Prediction(3, 3), storetest.Prediction(4, 4)}
		ps[0].Client, ps[1].Client, ps[2].Client = &alice, &bob, &alice // ps[3] is anonymous
		if err := s.Create(ctx, ps); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			client *string
			want   []int64
		}{
			{&alice, []int64{ps[2].ID, ps[0].ID}},
			{&bob, []int64{ps[1].ID}},
			{nil, []int64{ps[3].ID, ps[2].ID, ps[1].ID, ps[0].ID}},
		} {
			got, err := s.List(ctx, store.ListQuery{Limit: 10, Client: tc.client})
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, p := range got {
				ids = append(ids, p.ID)
			}
			if !equalIDs(ids, tc.want) {
				t.Errorf("client %v: ids %v, want %v", deref(tc.client), ids, tc.want)
			}
		}
		got, err := s.Get(ctx, ps[1].ID)
		if err != nil || got.Client == nil || *got.Client != "bob" {
			t.Fatalf("Get(%d).Client = %v, %v; want bob", ps[1].ID, got, err)
		}
	})
}

func TestDeleteRemovesOneRow(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ps := []*store.Prediction{storetest.Prediction(1, 1), storetest.Prediction(2, 2)}
		if err := s.Create(ctx, ps); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, ps[0].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, ps[0].ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get after Delete: %v, want ErrNotFound", err)
		}
		if _, err := s.Get(ctx, ps[1].ID); err != nil {
			t.Errorf("the other row went too: %v", err)
		}
		if err := s.Delete(ctx, ps[0].ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second Delete: %v, want ErrNotFound", err)
		}
	})
}

func TestDeleteBeforeRemovesOnlyOldRowsInBatches(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		var old, fresh []*store.Prediction
		for i := range 7 {
			p := storetest.Prediction(i, byte(i))
			p.CreatedAt = now.Add(-48*time.Hour + time.Duration(i)*time.Minute)
			old = append(old, p)
		}
		for i := range 3 {
			p := storetest.Prediction(i, byte(i))
			p.CreatedAt = now.Add(-time.Duration(i) * time.Minute)
			fresh = append(fresh, p)
		}
		if err := s.Create(ctx, append(append([]*store.Prediction{}, old...), fresh...)); err != nil {
			t.Fatal(err)
		}
		cutoff := now.Add(-24 * time.Hour)
		var counts []int64
		for {
			n, err := s.DeleteBefore(ctx, cutoff, 3)
			if err != nil {
				t.Fatal(err)
			}
			counts = append(counts, n)
			if n < 3 {
				break
			}
		}
		if want := []int64{3, 3, 1}; !equalIDs(counts, want) {
			t.Errorf("batches deleted %v rows, want %v", counts, want)
		}
		for _, p := range old {
			if _, err := s.Get(ctx, p.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("old row %d (%v) still there: %v", p.ID, p.CreatedAt, err)
			}
		}
		for _, p := range fresh {
			if _, err := s.Get(ctx, p.ID); err != nil {
				t.Errorf("newer row %d (%v) gone: %v", p.ID, p.CreatedAt, err)
			}
		}
	})
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func deref(s *string) string {
	if s == nil {
		return "<any>"
	}
	return *s
}
