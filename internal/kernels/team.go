package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// teamSpin is how long a Team's helper keeps looking for the next call's
// work before it sleeps. The calls of a training step come microseconds
// to tens of microseconds apart, so a helper is awake for every one.
const teamSpin = 200 * time.Microsecond

// A Team is Parallel with helpers that stay awake between calls: workers-1
// goroutines, started once, that wait for the next call's pieces by
// yielding (runtime.Gosched, so that other goroutines of the process, such
// as the trainer's batch preparation, run meanwhile) for up to teamSpin
// before they sleep. It suits one caller making many calls in a row, such
// as a training step's layers. A call made while another is running, or
// after Close, falls back to Parallel's goroutines.
//
// Why: Parallel starts its workers as new goroutines, which Go queues on
// the caller's own processor. While the trainer's batch preparation holds
// the other core, they are likely not taken until the caller has done most
// of the pieces itself; a helper already waiting in Gosched gets the core
// back as soon as the preparation yields or blocks. Without the
// preparation (BenchmarkTrainStep) the team makes no difference; with it,
// on 2 cores, the default run went from a median of 75.7 to 72.4 s
// (BENCHMARKS.md, ninth session), for about 8% more CPU time spent
// yielding.
type Team struct {
	workers int
	mu      sync.Mutex // held by the call the helpers serve
	job     atomic.Pointer[teamJob]
	seq     atomic.Uint64 // counts published jobs; Close publishes nil
	parked  []atomic.Bool
	wake    []chan struct{}
	helpers sync.WaitGroup
	closed  atomic.Bool
}

// teamJob is one call's work: run takes pieces until none is left.
type teamJob struct {
	run   func(worker int)
	limit int          // workers of this call: helpers 1..limit-1 join
	state atomic.Int64 // helpers inside run, plus jobDone once the caller has finished its own part
}

const jobDone = 1 << 40

// NewTeam starts a team of workers goroutines: the caller and workers-1
// helpers. Close stops the helpers.
func NewTeam(workers int) *Team {
	t := &Team{workers: max(workers, 1)}
	n := t.workers - 1
	t.parked = make([]atomic.Bool, n)
	t.wake = make([]chan struct{}, n)
	t.helpers.Add(n)
	for i := range n {
		t.wake[i] = make(chan struct{}, 1)
		go t.helper(i + 1)
	}
	return t
}

// Workers returns how many goroutines share a call.
func (t *Team) Workers() int { return t.workers }

// Parallel is kernels.Parallel on the team.
func (t *Team) Parallel(n int, fn func(worker, lo, hi int)) { t.ParallelGrain(n, 1, fn) }

// ParallelGrain is kernels.ParallelGrain on the team: the same pieces, fn
// called with the same ranges, so results are the same.
func (t *Team) ParallelGrain(n, grain int, fn func(worker, lo, hi int)) {
	workers, run := pieces(n, t.workers, grain, fn)
	if workers <= 1 {
		fn(0, 0, n)
		return
	}
	if t.closed.Load() || !t.mu.TryLock() {
		spread(workers, run)
		return
	}
	defer t.mu.Unlock()
	j := &teamJob{run: run, limit: workers}
	t.publish(j)
	run(0)
	// Every piece is taken; wait for the helpers still inside one, and
	// shut out any that has not joined yet.
	for {
		s := j.state.Load()
		switch {
		case s&jobDone == 0:
			j.state.CompareAndSwap(s, s|jobDone)
		case s == jobDone:
			return
		default:
			runtime.Gosched()
		}
	}
}

// publish hands j to the helpers, waking those asleep.
func (t *Team) publish(j *teamJob) {
	t.job.Store(j)
	t.seq.Add(1)
	for i := range t.parked {
		// A helper marks itself parked before it checks seq one last
		// time, and seq is stored before this load: either it sees the
		// new job or this sees it parked (a wake-up it then finds
		// spare only sends it round its loop once more).
		if t.parked[i].Load() {
			select {
			case t.wake[i] <- struct{}{}:
			default:
			}
		}
	}
}

// Close stops the helpers and waits for them; calls after it run on
// Parallel's goroutines.
func (t *Team) Close() {
	if t.closed.Swap(true) {
		return
	}
	t.mu.Lock()
	t.publish(nil)
	t.mu.Unlock()
	t.helpers.Wait()
}

// helper is the loop of helper w (1..workers-1).
func (t *Team) helper(w int) {
	defer t.helpers.Done()
	var seen uint64
	for {
		t.await(w, seen)
		seen = t.seq.Load()
		j := t.job.Load()
		if j == nil {
			return
		}
		if w < j.limit && j.join() {
			j.run(w)
			j.state.Add(-1)
		}
	}
}

// await returns once the team has published a job after seen: at once if
// so, else after yielding for up to teamSpin, else after sleeping until
// publish wakes it.
func (t *Team) await(w int, seen uint64) {
	var since time.Time
	for spins := 1; t.seq.Load() == seen; spins++ {
		if spins%32 == 0 {
			if since.IsZero() {
				since = time.Now()
			} else if time.Since(since) > teamSpin {
				p := &t.parked[w-1]
				p.Store(true)
				if t.seq.Load() == seen {
					<-t.wake[w-1]
				}
				p.Store(false)
				since = time.Time{}
				continue
			}
		}
		runtime.Gosched()
	}
}

// join enters j unless its caller has finished.
func (j *teamJob) join() bool {
	for {
		s := j.state.Load()
		if s&jobDone != 0 {
			return false
		}
		if j.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}
