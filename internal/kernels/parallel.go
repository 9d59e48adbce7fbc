package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// chunksPerWorker is how many pieces Parallel cuts each worker's share
// into. The workers take the pieces in turn rather than one fixed share
// each, so a worker that cannot run (its core taken by another goroutine
// of the process, such as the trainer's batch preparation, or by another
// program) holds back only the piece it has, not half of the work: the
// others take the rest.
const chunksPerWorker = 4

// Parallel splits 0..n into contiguous ranges and runs fn on them from up
// to workers goroutines, returning when all are done. Each range goes to
// whichever goroutine is free first: worker (below workers) tells fn which
// goroutine runs it, for scratch buffers of its own, and no two ranges run
// on one worker at once. What fn computes must therefore depend on the
// range only. With one worker or n small it runs fn inline, so small calls
// pay no scheduling cost.
func Parallel(n, workers int, fn func(worker, lo, hi int)) {
	ParallelGrain(n, workers, 1, fn)
}

// ParallelGrain is Parallel with every range but the last a multiple of
// grain long: for work that goes best grain items at a time.
func ParallelGrain(n, workers, grain int, fn func(worker, lo, hi int)) {
	workers, run := pieces(n, workers, grain, fn)
	if workers <= 1 {
		fn(0, 0, n)
		return
	}
	spread(workers, run)
}

// pieces cuts 0..n for ParallelGrain and Team: how many workers to use,
// and run, which calls fn on pieces until none is left, for each of them.
func pieces(n, workers, grain int, fn func(worker, lo, hi int)) (int, func(w int)) {
	grain = max(grain, 1)
	workers = min(workers, (n+grain-1)/grain)
	if workers <= 1 {
		return workers, nil
	}
	chunk := (n + workers*chunksPerWorker - 1) / (workers * chunksPerWorker)
	chunk = (chunk + grain - 1) / grain * grain
	var next atomic.Int64
	return workers, func(w int) {
		for {
			lo := int(next.Add(int64(chunk))) - chunk
			if lo >= n {
				return
			}
			fn(w, lo, min(n, lo+chunk))
		}
	}
}

// spread runs run on the caller and workers-1 new goroutines.
func spread(workers int, run func(w int)) {
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(w)
		}()
	}
	run(0)
	wg.Wait()
}

// Workers is the number of goroutines the kernels split a batch over.
func Workers() int { return runtime.GOMAXPROCS(0) }
