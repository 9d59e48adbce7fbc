package store

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestConcurrentCallsShareOneCommit holds the only SQLite committer inside
// its first commit until calls pile up, then checks that they all went in
// one transaction and each got its own committed rows back.
func TestConcurrentCallsShareOneCommit(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "group.db"), nil)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close()

	release := make(chan struct{})
	var mu sync.Mutex
	var stats []CommitStats
	s.OnCommit(func(cs CommitStats) {
		mu.Lock()
		stats = append(stats, cs)
		first := len(stats) == 1
		mu.Unlock()
		if first {
			<-release // the committer waits here, after its commit
		}
	})

	row := func(d int) *Prediction {
		return &Prediction{Image: make([]byte, 784), Prediction: d, Confidence: 1, ModelVersion: "g"}
	}
	firstDone := make(chan error, 1)
	go func() { firstDone <- s.Create(ctx, []*Prediction{row(0)}) }()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(stats) == 1 })

	const calls = 20
	results := make([][]*Prediction, calls)
	errs := make([]error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		results[i] = []*Prediction{row(i % 10), row((i + 1) % 10)}
		wg.Go(func() { errs[i] = s.Create(ctx, results[i]) })
	}
	waitFor(t, func() bool { return len(s.commits.calls) == calls })
	close(release)
	wg.Wait()
	if err := <-firstDone; err != nil {
		t.Fatalf("first Create: %v", err)
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Create %d: %v", i, err)
		}
		for _, p := range results[i] {
			got, err := s.Get(ctx, p.ID)
			if err != nil || got.Prediction != p.Prediction {
				t.Errorf("call %d: row %d reads back %+v, %v", i, p.ID, got, err)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(stats) != 2 || stats[1].Calls != calls || stats[1].Rows != 2*calls || stats[1].Err != nil {
		t.Errorf("commits %+v, want the first alone and then one of %d calls, %d rows", stats, calls, 2*calls)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(tb testing.TB, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	tb.Fatal("condition not met within 10 s")
}
