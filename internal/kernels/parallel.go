package kernels

import (
	"runtime"
	"sync"
)

// Parallel splits 0..n into at most workers contiguous ranges and runs fn on
// each in its own goroutine, returning when all are done. With one worker
// or n small it runs fn inline, so small calls pay no scheduling cost.
func Parallel(n, workers int, fn func(worker, lo, hi int)) {
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		fn(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for w := 1; w < workers; w++ {
		lo, hi := w*chunk, min(n, (w+1)*chunk)
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(w, lo, hi)
		}()
	}
	fn(0, 0, min(n, chunk))
	wg.Wait()
}

// Workers is the number of goroutines the kernels split a batch over.
func Workers() int { return runtime.GOMAXPROCS(0) }
