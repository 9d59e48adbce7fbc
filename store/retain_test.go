package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

func TestRetainDeletesOldRowsAndKeepsNewOnes(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		var old, fresh []*store.Prediction
		for i := range 3*store.RetainBatch/2 + 1 { // more than one batch
			p := storetest.Prediction(i%10, byte(i))
			p.CreatedAt = time.Now().Add(-2 * time.Hour)
			old = append(old, p)
		}
		for i := range 3 {
			p := storetest.Prediction(i, byte(i))
			p.CreatedAt = time.Now().Add(-30 * time.Minute)
			fresh = append(fresh, p)
		}
		if err := st.Create(ctx, append(append([]*store.Prediction{}, old...), fresh...)); err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- st.Retain(rctx, time.Hour, nil) }()
		deadline := time.Now().Add(20 * time.Second)
		for count(t, st) != int64(len(fresh)) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Retain returned %v", err)
		}
		if n := count(t, st); n != int64(len(fresh)) {
			t.Fatalf("%d rows left, want the %d newer than an hour", n, len(fresh))
		}
		for _, p := range fresh {
			if _, err := st.Get(ctx, p.ID); err != nil {
				t.Errorf("newer row %d gone: %v", p.ID, err)
			}
		}
	})
}

// count is the number of stored rows.
func count(tb testing.TB, st *store.Store) int64 {
	tb.Helper()
	n, err := st.Count(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
