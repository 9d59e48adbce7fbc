package store

import (
	"context"
	"path/filepath"
	"testing"
)

// TestOneInsertWithATakenKeyTellsWhichRowsWentIn puts, in one INSERT, rows
// whose key is taken between rows whose keys are fresh: the ids must land on
// the rows that were stored, each on its own (the slow path of
// insertKeyedRows), and the rows of the taken key must keep ID 0.
func TestOneInsertWithATakenKeyTellsWhichRowsWentIn(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "k.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	row := func(scope, key string, pos, digit int) *Prediction {
		p := &Prediction{Image: make([]byte, 784), Prediction: digit, Confidence: 1, ModelVersion: "m"}
		p.IdemKeyHash, p.IdemPosition, p.IdemRequest = KeyHash(scope, key), &pos, []byte("h")
		return p
	}
	if err := s.insertAll(ctx, []*Prediction{row("a", "taken", 0, 1)}); err != nil {
		t.Fatal(err)
	}
	rows := []*Prediction{
		row("a", "fresh1", 0, 2),
		row("a", "taken", 0, 3), // taken
		row("b", "taken", 0, 4), // same key, other scope: fresh
		row("a", "fresh2", 1, 5),
		{Image: make([]byte, 784), Prediction: 6, Confidence: 1, ModelVersion: "m"}, // no key
	}
	if err := s.insertAll(ctx, rows); err != nil {
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
}
