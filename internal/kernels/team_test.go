package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A team splits work as ParallelGrain does, whether its helpers are awake
// (calls back to back) or asleep (a pause longer than teamSpin first).
func TestTeamCoversEveryIndexOnceInWholeGrains(t *testing.T) {
	for _, pause := range []time.Duration{0, 3 * teamSpin} {
		for _, c := range grainCases {
			team := NewTeam(c.workers)
			for range 3 {
				time.Sleep(pause)
				r := &ranges{busy: map[int]bool{}}
				team.ParallelGrain(c.n, c.grain, r.fn)
				r.check(t, c.n, c.workers, c.grain)
			}
			team.Close()
		}
	}
}

// The helpers take part: a piece that waits for another worker to start
// one is let go only by a helper, awake or woken from sleep.
func TestTeamHelpersTakePieces(t *testing.T) {
	team := NewTeam(2)
	defer team.Close()
	for i, pause := range []time.Duration{0, 0, 3 * teamSpin, 3 * teamSpin} {
		time.Sleep(pause)
		var byHelper atomic.Bool
		// One deadline for the whole call: worker 0 may be handed several
		// pieces, and a team whose helper never wakes must fail in 5 s,
		// not in 5 s a piece.
		deadline := time.Now().Add(5 * time.Second)
		team.Parallel(8, func(worker, lo, hi int) {
			if worker != 0 {
				byHelper.Store(true)
				return
			}
			for !byHelper.Load() && time.Now().Before(deadline) {
				runtime.Gosched()
			}
		})
		if !byHelper.Load() {
			t.Fatalf("call %d (after %v): no helper took a piece in 5 s", i, pause)
		}
	}
}

// Calls from two goroutines at once both finish and both cover their
// work: the second runs on its own goroutines while the team serves the
// first.
func TestTeamSharedByTwoCallersAtOnce(t *testing.T) {
	team := NewTeam(2)
	defer team.Close()
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				r := &ranges{busy: map[int]bool{}}
				team.ParallelGrain(64, 3, r.fn)
				r.check(t, 64, 2, 3)
			}
		}()
	}
	wg.Wait()
}

// Close stops the helpers, awake or asleep; calls after it still work.
func TestTeamCloseStopsItsHelpers(t *testing.T) {
	before := runtime.NumGoroutine()
	awake, asleep := NewTeam(4), NewTeam(3)
	if got := runtime.NumGoroutine(); got < before+5 {
		t.Fatalf("%d goroutines after starting teams of 4 and 3, want at least %d", got, before+5)
	}
	awake.Parallel(16, func(int, int, int) {})
	time.Sleep(3 * teamSpin)
	awake.Parallel(16, func(int, int, int) {})
	awake.Close()
	asleep.Close()
	awake.Close() // a second Close is harmless
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := runtime.NumGoroutine(); got > before {
		t.Fatalf("%d goroutines after Close, want %d", got, before)
	}
	r := &ranges{busy: map[int]bool{}}
	awake.ParallelGrain(40, 4, r.fn)
	r.check(t, 40, 4, 4)
}
