package pipeline

import (
	"testing"
	"time"
)

// answerWindow admits and answers n requests, late of them after the goal,
// in a window whose start is moved back past admitWindow; reached says
// whether the bound was reached (requests refused) in it.
func (a *admission) answerWindow(tb testing.TB, n, late int, reached bool) {
	tb.Helper()
	a.mu.Lock()
	a.since = time.Now().Add(-2 * admitWindow)
	a.mu.Unlock()
	if reached {
		a.reached.Store(true)
	}
	for i := range n {
		if !a.take() {
			tb.Fatalf("answer %d of the window: refused below the bound", i)
		}
		took := a.goal / 2
		if i < late {
			took = 2 * a.goal
		}
		a.done(took)
	}
}

func TestAdmissionHoldsItsBound(t *testing.T) {
	a := newAdmission(3, 0)
	for i := range 3 {
		if !a.take() {
			t.Fatalf("request %d refused below the bound of 3", i)
		}
	}
	if a.take() || !a.full() {
		t.Fatal("a fourth request admitted with 3 in")
	}
	a.done(time.Hour) // no goal: a slow answer moves nothing
	if !a.take() || a.limit.Load() != 3 {
		t.Fatalf("after one answer: limit %d, want a slot free under the bound of 3", a.limit.Load())
	}
}

func TestAdmissionFollowsTheLatencyGoal(t *testing.T) {
	const goal = 50 * time.Millisecond
	a := newAdmission(256, goal)

	// Slow answers while the bound is not reached come from elsewhere (a
	// database stall): a shorter queue would only refuse requests.
	a.answerWindow(t, admitSample, admitSample, false)
	if got := a.limit.Load(); got != 256 {
		t.Fatalf("all late, nothing refused: limit %d, want it left at 256", got)
	}
	a.answerWindow(t, admitSample, 1, true) // 1% late: within the goal
	if got := a.limit.Load(); got != 256 {
		t.Fatalf("1%% late: limit %d, want it left at 256", got)
	}
	a.answerWindow(t, admitSample, 2, true) // 2% late while refusing: too long a queue
	if got := a.limit.Load(); got != 224 {
		t.Fatalf("2%% late: limit %d, want 256 less an eighth, 224", got)
	}
	a.answerWindow(t, admitSample/2, admitSample/2, true) // too few answers to judge
	a.answerWindow(t, admitSample/2-1, 0, true)
	if got := a.limit.Load(); got != 224 {
		t.Fatalf("a window of %d answers: limit %d, want it unmoved", admitSample-1, got)
	}
	a.answerWindow(t, 1, 0, true) // closes that window: 50 of 100 late
	if got := a.limit.Load(); got != 196 {
		t.Fatalf("half late: limit %d, want 224 less an eighth, 196", got)
	}

	// Nothing late and nobody refused: no reason to grow.
	a.answerWindow(t, admitSample, 0, false)
	if got := a.limit.Load(); got != 196 {
		t.Fatalf("no refusals: limit %d, want it unmoved", got)
	}
	// A full queue marks the bound reached as a refusal does.
	for a.take() {
	}
	a.reached.Store(false)
	if !a.full() || !a.reached.Load() {
		t.Fatal("full queue: not reported full, or the bound not marked reached")
	}
	for a.depth.Load() > 0 {
		a.done(goal / 2)
	}
	// Refusals while everything is in time: it grows back, up to the max.
	for range 100 {
		a.answerWindow(t, admitSample, 0, true)
	}
	if got := a.limit.Load(); got != 256 {
		t.Fatalf("refusals with every answer in time: limit %d, want back at the max 256", got)
	}

	// Always late while refusing: down to the floor, never below it.
	for range 100 {
		a.answerWindow(t, admitSample, admitSample, true)
	}
	if got := a.limit.Load(); got != admitFloor {
		t.Fatalf("always late: limit %d, want the floor %d", got, admitFloor)
	}
	small := newAdmission(3, goal)
	small.answerWindow(t, admitSample, admitSample, true)
	if got := small.limit.Load(); got != 3 {
		t.Fatalf("max 3, always late: limit %d, want 3 (the floor is never above the max)", got)
	}
}
