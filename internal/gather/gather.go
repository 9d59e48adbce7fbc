// Package gather is the loop behind dynamic batching and group commit:
// take the first item that waits, add whatever else waits (up to a size,
// waiting at most a delay for more), run them together once, and repeat.
// Under load a group forms while the previous one runs, so one model call
// or one commit serves many callers; a lone caller goes through at once.
package gather

import "time"

// Loop gathers items sent on In into groups and hands each group to Run.
// Run answers every item of its group itself (items carry their own reply
// channels); the loop only decides what goes together.
type Loop[T any] struct {
	In    <-chan T        // items waiting to be run
	Stop  <-chan struct{} // closed to stop once what waits on In has run
	Limit int             // most units (Size) in one group; an item larger than Limit goes alone
	Size  func(T) int     // units of one item (images, rows)
	Delay time.Duration   // longest a group waits for more items; 0 takes only what already waits
	Run   func(group []T)
}

// Serve runs groups until Stop is closed, then runs the items still waiting
// on In and returns. Start it in as many goroutines as groups should run
// at once.
func (l Loop[T]) Serve() {
	var carry T
	hasCarry := false
	for {
		first := carry
		if !hasCarry {
			var ok bool
			if first, ok = l.next(); !ok {
				return
			}
		}
		var group []T
		group, carry, hasCarry = l.gather(first)
		l.Run(group)
	}
}

// next waits for the first item of a group; after Stop it takes only one
// that already waits, reporting false when none does.
func (l Loop[T]) next() (T, bool) {
	select {
	case it := <-l.In:
		return it, true
	case <-l.Stop:
		select {
		case it := <-l.In:
			return it, true
		default:
			var zero T
			return zero, false
		}
	}
}

// gather adds to first the items waiting on In while the group holds fewer
// than Limit units, waiting up to Delay for more. An item that would take
// the group past Limit is returned as carry, to start the next group.
func (l Loop[T]) gather(first T) (group []T, carry T, hasCarry bool) {
	group = []T{first}
	n := l.Size(first)
	var timeout <-chan time.Time
	if l.Delay > 0 {
		t := time.NewTimer(l.Delay)
		defer t.Stop()
		timeout = t.C
	}
	for n < l.Limit {
		var it T
		select {
		case it = <-l.In:
		default:
			if timeout == nil {
				return group, carry, false
			}
			select {
			case it = <-l.In:
			case <-timeout:
				return group, carry, false
			case <-l.Stop: // shutting down: run what is here, wait no more
				return group, carry, false
			}
		}
		if n+l.Size(it) > l.Limit {
			return group, it, true
		}
		group = append(group, it)
		n += l.Size(it)
	}
	return group, carry, false
}
