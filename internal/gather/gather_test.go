package gather

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// runLoop sends items (sizes) before starting one loop goroutine, stops it,
// and returns the groups it ran, as sizes.
func runLoop(tb testing.TB, limit int, delay time.Duration, sizes ...int) [][]int {
	tb.Helper()
	in := make(chan int, len(sizes))
	for _, s := range sizes {
		in <- s
	}
	stop := make(chan struct{})
	close(stop)
	var mu sync.Mutex
	var groups [][]int
	Loop[int]{In: in, Stop: stop, Limit: limit, Size: func(n int) int { return n }, Delay: delay,
		Run: func(g []int) {
			mu.Lock()
			defer mu.Unlock()
			groups = append(groups, slices.Clone(g))
		}}.Serve()
	return groups
}

func TestLoop(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limit  int
		sizes  []int
		groups [][]int
	}{
		{"items that fit run in one group", 10, []int{1, 2, 3}, [][]int{{1, 2, 3}}},
		{"an item that would overflow starts the next group", 4, []int{2, 1, 3, 1}, [][]int{{2, 1}, {3, 1}}},
		{"an item larger than the limit runs alone", 4, []int{1, 9, 1}, [][]int{{1}, {9}, {1}}},
		{"a group stops growing once it reaches the limit", 2, []int{1, 1, 1}, [][]int{{1, 1}, {1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := runLoop(t, tc.limit, 0, tc.sizes...)
			if !slices.EqualFunc(got, tc.groups, slices.Equal[[]int]) {
				t.Errorf("groups %v, want %v", got, tc.groups)
			}
		})
	}
}

// serveDelayed runs one loop of items of size 1 (limit 10) waiting up to
// delay for company; each group it runs arrives on groups, and done
// closes once the loop returns after stop is closed.
func serveDelayed(delay time.Duration) (in chan<- int, stop chan struct{}, groups <-chan []int, done <-chan struct{}) {
	items := make(chan int)
	stop = make(chan struct{})
	ran := make(chan []int, 4)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		Loop[int]{In: items, Stop: stop, Limit: 10, Size: func(int) int { return 1 }, Delay: delay,
			Run: func(g []int) { ran <- slices.Clone(g) }}.Serve()
	}()
	return items, stop, ran, finished
}

func TestLoopWaitsUpToDelayForMore(t *testing.T) {
	in, stop, groups, done := serveDelayed(200 * time.Millisecond)
	in <- 1
	time.Sleep(20 * time.Millisecond)
	in <- 2 // arrives while the first waits for company
	if g := <-groups; !slices.Equal(g, []int{1, 2}) {
		t.Errorf("group %v, want [1 2]: the second item came within the delay", g)
	}
	close(stop)
	<-done
}

// TestStopCutsTheDelayShort: a group waiting out a long Delay for company
// runs at once when the loop is stopped, so a shutdown does not wait the
// delay out (with --max-delay 1h, SIGTERM hung).
func TestStopCutsTheDelayShort(t *testing.T) {
	in, stop, groups, done := serveDelayed(time.Hour)
	in <- 1
	time.Sleep(20 * time.Millisecond) // waiting for company
	close(stop)
	select {
	case g := <-groups:
		if !slices.Equal(g, []int{1}) {
			t.Errorf("group %v, want [1]", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the group still waits out its hour after Stop")
	}
	<-done
}
