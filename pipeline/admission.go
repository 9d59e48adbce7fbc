package pipeline

import (
	"sync"
	"sync/atomic"
	"time"
)

// admission bounds the prediction requests in the server at once. The
// bound is at most Config.QueueLength. With a latency goal
// (Config.QueueLatency) it also follows what this host can answer in time:
// while the bound is reached (requests are being refused), it is lowered
// when more than 1% of the admitted requests take longer than the goal,
// and raised again when none does. A fixed length bounds memory but not
// waiting: a queue that drains in 40 ms on one host takes 100 ms on a host
// half as fast, or on the same host while refusing a thousand clients eats
// the CPU. Like CoDel, this keeps the delay bounded, not the length. The
// bound moves only while it is reached: slow answers with room to spare
// come from elsewhere (a database checkpoint stalls every commit for a
// moment), and a shorter queue would only refuse requests it could take.
type admission struct {
	max     int64         // the bound never goes above this
	goal    time.Duration // 0: the bound stays at max
	depth   atomic.Int64  // requests admitted and not yet answered
	limit   atomic.Int64  // the bound now
	reached atomic.Bool   // the bound was reached in this window

	mu    sync.Mutex // guards the window below
	since time.Time  // start of the window
	n     int        // admitted requests answered in the window
	late  int        // of those, answered later than goal
}

const (
	// admitWindow and admitSample are how long and over how many
	// answers the late share is taken before the bound moves: enough
	// answers for a 1% share to mean something, so that one slow answer
	// on an idle server does not shorten the queue.
	admitWindow = 100 * time.Millisecond
	admitSample = 100
	// admitFloor is the least the bound is lowered to.
	admitFloor = 8
)

func newAdmission(max int, goal time.Duration) *admission {
	a := &admission{max: int64(max), goal: goal, since: time.Now()}
	a.limit.Store(int64(max))
	return a
}

// take admits one request, or reports false when the bound is reached.
func (a *admission) take() bool {
	if a.depth.Add(1) > a.limit.Load() {
		a.depth.Add(-1)
		a.reached.Store(true)
		return false
	}
	return true
}

// full reports whether a request arriving now would be refused.
func (a *admission) full() bool {
	if a.depth.Load() >= a.limit.Load() {
		a.reached.Store(true)
		return true
	}
	return false
}

// done gives back the slot of a request answered took after its admission,
// and moves the bound at the end of a window.
func (a *admission) done(took time.Duration) {
	a.depth.Add(-1)
	if a.goal <= 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	if took > a.goal {
		a.late++
	}
	now := time.Now()
	if a.n < admitSample || now.Sub(a.since) < admitWindow {
		return
	}
	limit := a.limit.Load()
	switch reached := a.reached.Swap(false); {
	case reached && a.late*100 > a.n:
		limit = max(min(admitFloor, a.max), limit-max(1, limit/8))
	case reached && a.late == 0:
		limit = min(a.max, limit+max(1, limit/16))
	}
	a.limit.Store(limit)
	a.since, a.n, a.late = now, 0, 0
}
