package kernels

import (
	"sync"
	"testing"
	"time"
)

// ranges records the calls of a Parallel run.
type ranges struct {
	mu      sync.Mutex
	calls   [][3]int // worker, lo, hi
	busy    map[int]bool
	overlap bool // a worker ran two ranges at once
}

func (r *ranges) fn(worker, lo, hi int) {
	r.mu.Lock()
	if r.busy[worker] {
		r.overlap = true
	}
	r.busy[worker] = true
	r.calls = append(r.calls, [3]int{worker, lo, hi})
	r.mu.Unlock()
	time.Sleep(time.Microsecond) // let the workers interleave
	r.mu.Lock()
	r.busy[worker] = false
	r.mu.Unlock()
}

// grainCases are the splits the coverage tests try: n, workers, grain.
var grainCases = []struct{ n, workers, grain int }{
	{128, 2, 1}, {128, 2, 3}, {128, 3, 3}, {128, 16, 1}, {5, 2, 1}, {7, 4, 3}, {1, 2, 1}, {0, 2, 1}, {128, 1, 3},
}

func TestParallelGrainCoversEveryIndexOnceInWholeGrains(t *testing.T) {
	for _, c := range grainCases {
		r := &ranges{busy: map[int]bool{}}
		ParallelGrain(c.n, c.workers, c.grain, r.fn)
		r.check(t, c.n, c.workers, c.grain)
	}
}

// check fails t unless the calls ran each of 0..n once, in whole grains,
// on workers below workers, no worker running two at once.
func (r *ranges) check(t *testing.T, n, workers, grain int) {
	t.Helper()
	seen := make([]int, n)
	for _, call := range r.calls {
		w, lo, hi := call[0], call[1], call[2]
		if w < 0 || w >= workers {
			t.Errorf("n %d, workers %d, grain %d: worker %d, want 0..%d", n, workers, grain, w, workers-1)
		}
		if lo%grain != 0 || (hi != n && (hi-lo)%grain != 0) {
			t.Errorf("n %d, workers %d, grain %d: range %d..%d is not in whole grains", n, workers, grain, lo, hi)
		}
		for i := lo; i < hi; i++ {
			seen[i]++
		}
	}
	for i, k := range seen {
		if k != 1 {
			t.Fatalf("n %d, workers %d, grain %d: index %d run %d times, want once", n, workers, grain, i, k)
		}
	}
	if r.overlap {
		t.Errorf("n %d, workers %d, grain %d: a worker ran two ranges at once (its scratch buffers would be shared)", n, workers, grain)
	}
}

// A worker held up (its core taken by something else) must not hold up
// the work: the other takes the rest, where a fixed half each would leave
// half the work waiting for the one held up.
func TestParallelWorkerHeldUpLeavesTheRestToTheOthers(t *testing.T) {
	const n = 64
	release := make(chan struct{})
	var mu sync.Mutex
	done, byZero := 0, 0
	ParallelGrain(n, 2, 1, func(worker, lo, hi int) {
		if worker == 1 {
			select {
			case <-release:
			case <-time.After(5 * time.Second):
				t.Error("worker 0 did not take over the work while worker 1 was held up")
			}
		}
		mu.Lock()
		defer mu.Unlock()
		done += hi - lo
		if worker == 0 {
			byZero += hi - lo
			if byZero >= n*3/4 { // more than its half: it took the held-up worker's share
				select {
				case <-release:
				default:
					close(release)
				}
			}
		}
	})
	if done != n {
		t.Fatalf("%d of %d items done", done, n)
	}
}
