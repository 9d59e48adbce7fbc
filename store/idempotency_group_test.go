package store_test

import (
	"context"
	"testing"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// TestOneGroupWithATakenKeyTellsWhichRowsWentIn writes, as one group
// commit, rows whose key is taken between rows whose keys are fresh and a
// row without a key. On PostgreSQL the optimistic plain INSERT fails on
// the taken key and the group is written again with ON CONFLICT; on both
// backends the ids must land on the rows that were stored, each on its own
// (the slow path of insertKeyedRows), and the row of the taken key must
// keep ID 0 and store nothing.
func TestOneGroupWithATakenKeyTellsWhichRowsWentIn(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		row := func(scope, key string, pos, digit int) *store.Prediction {
			p := storetest.Prediction(digit, byte(digit))
			p.IdemKeyHash, p.IdemPosition, p.IdemRequest = store.KeyHash(scope, key), &pos, []byte("h")
			return p
		}
		if err := s.InsertAllForTest(ctx, []*store.Prediction{row("a", "taken", 0, 1)}); err != nil {
			t.Fatal(err)
		}
		rows := []*store.Prediction{
			row("a", "fresh1", 0, 2),
			row("a", "taken", 0, 3), // taken
			row("b", "taken", 0, 4), // same key, other scope: fresh
			row("a", "fresh2", 1, 5),
			storetest.Prediction(6, 6), // no key
		}
		if err := s.InsertAllForTest(ctx, rows); err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			if (r.ID == 0) != (i == 1) {
				t.Fatalf("row %d has id %d; want 0 only for the taken key", i, r.ID)
			}
			if r.ID == 0 {
				continue
			}
			got, err := s.Get(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Prediction != r.Prediction {
				t.Errorf("row %d got id %d, which holds digit %d, not %d", i, r.ID, got.Prediction, r.Prediction)
			}
		}
		if n := count(t, s); n != 5 {
			t.Errorf("%d rows stored, want 5 (the first taken row and 4 of the group)", n)
		}
	})
}
