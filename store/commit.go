package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mnistserve/app/internal/gather"
)

// Group commit: every Create call hands its rows to a committer goroutine,
// which takes all the calls waiting at that moment and stores their rows in
// one transaction with one multi-row INSERT. Under load one commit (one
// fsync) then serves dozens of requests instead of one, which is what bounds
// a per-request-commit server. Each call still returns only once its own
// rows are committed, so "success means stored" holds unchanged.

const (
	// maxGroupRows bounds the rows of one transaction, so one commit stays
	// short and its INSERTs stay under both databases' parameter limits.
	maxGroupRows = 1024
	// insertChunk is the rows per INSERT statement inside a transaction:
	// 7 columns x 512 rows stays far below SQLite's 32766 and PostgreSQL's
	// 65535 bind parameters.
	insertChunk = 512
	// pendingCalls bounds the calls handed over but not yet taken by a
	// committer; a caller beyond it waits (honouring its context).
	pendingCalls = 4096
)

// CommitStats describes one group commit, for metrics.
type CommitStats struct {
	Calls    int               // Create calls whose rows it held
	Callers  []context.Context // those calls' contexts, for tracing (each carries its caller's span)
	Rows     int               // rows it inserted
	Duration time.Duration     // from BEGIN to the end of COMMIT
	Err      error             // nil when committed
}

// errClosed is what Create answers once the store is closed.
var errClosed = fmt.Errorf("create predictions: store is closed: %w", ErrUnavailable)

// call is one Create call waiting for its rows to be committed.
type call struct {
	ctx  context.Context
	rows []*Prediction
	done chan error // buffered: the committer never blocks on a caller
}

// committer owns the goroutines that commit rows handed to Create.
type committer struct {
	s     *Store
	calls chan *call
	stop  chan struct{}
	wg    sync.WaitGroup

	// mu makes closing and handing over exclusive, so no call is handed
	// over after the committers have drained the channel and returned.
	mu     sync.RWMutex
	closed bool

	observe func(CommitStats) // set before the first Create; may be nil
}

// startCommitter starts n committer goroutines; Store.Close stops them.
// More than one lets a PostgreSQL commit wait for its fsync while the next
// group is inserted; SQLite has one connection, so one is enough there.
func (s *Store) startCommitter(n int) {
	c := &committer{
		s:     s,
		calls: make(chan *call, pendingCalls),
		stop:  make(chan struct{}),
	}
	// No waiting for more: the calls that arrive during one commit make up
	// the next group. A call bigger than maxGroupRows goes alone.
	loop := gather.Loop[*call]{
		In:    c.calls,
		Stop:  c.stop,
		Limit: maxGroupRows,
		Size:  func(cl *call) int { return len(cl.rows) },
		Run:   c.commitGroup,
	}
	for range n {
		c.wg.Go(loop.Serve)
	}
	s.commits = c
}

// OnCommit registers f to be told about every group commit (for metrics).
// Call it before the store is used; f must be quick and safe for concurrent
// use.
func (s *Store) OnCommit(f func(CommitStats)) { s.commits.observe = f }

// close stops taking calls, lets the committers store every call already
// handed over, and waits for them.
func (c *committer) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.stop)
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// submit hands rows to a committer and waits until they are committed, the
// commit failed, or ctx is done.
func (c *committer) submit(ctx context.Context, rows []*Prediction) error {
	cl := &call{ctx: ctx, rows: rows, done: make(chan error, 1)}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return errClosed
	}
	select {
	case c.calls <- cl:
		c.mu.RUnlock()
	case <-ctx.Done():
		c.mu.RUnlock()
		return wrap(ctx, "create predictions", ctx.Err())
	}
	select {
	case err := <-cl.done:
		return err
	case <-ctx.Done():
		// The rows may still be committed; the caller only learns that it
		// cannot count on them, so it never reports success without a commit.
		return wrap(ctx, "create predictions", ctx.Err())
	}
}

// commitGroup stores the rows of every live call in group in one
// transaction and answers each call. When that transaction fails for a
// reason other than the database being away, each call is retried in a
// transaction of its own, so one bad row fails only its own call.
func (c *committer) commitGroup(group []*call) {
	live := group[:0]
	for _, cl := range group {
		if err := cl.ctx.Err(); err != nil {
			cl.done <- wrap(cl.ctx, "create predictions", err) // its caller is gone: store nothing for it
			continue
		}
		live = append(live, cl)
	}
	if len(live) == 0 {
		return
	}
	err := c.insert(live)
	if err != nil && len(live) > 1 && !errors.Is(err, ErrUnavailable) {
		for _, cl := range live {
			cl.done <- c.settle(cl, c.insert([]*call{cl}))
		}
		return
	}
	for _, cl := range live {
		cl.done <- c.settle(cl, err)
	}
}

// insert stores the rows of calls in one transaction: a single multi-row
// INSERT when they fit in one, else chunks inside BEGIN ... COMMIT. Its
// deadline is the latest of the calls' deadlines, bounded by
// defaultOpTimeout, so that a hung database cannot hold a committer forever.
func (c *committer) insert(calls []*call) error {
	var rows []*Prediction
	deadline := time.Time{}
	for _, cl := range calls {
		rows = append(rows, cl.rows...)
		if d, ok := cl.ctx.Deadline(); ok && d.After(deadline) {
			deadline = d
		}
	}
	if limit := time.Now().Add(defaultOpTimeout); deadline.IsZero() || deadline.After(limit) {
		deadline = limit
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	err := wrap(ctx, "create predictions", c.s.insertAll(ctx, rows))
	if err != nil {
		// Rolled back: forget any ids filled in, so a retry inserts
		// these rows afresh instead of with ids that were never committed.
		for _, r := range rows {
			r.ID = 0
		}
	}
	if c.observe != nil {
		callers := make([]context.Context, len(calls))
		for i, cl := range calls {
			callers[i] = cl.ctx
		}
		c.observe(CommitStats{Calls: len(calls), Callers: callers, Rows: len(rows), Duration: time.Since(start), Err: err})
	}
	return err
}
