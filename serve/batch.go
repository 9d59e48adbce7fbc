package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/mnistserve/app/model"
)

// Dynamic batching, as Triton and TF Serving do it: requests hand their
// images to a queue, and a few batcher goroutines each take what is waiting
// (up to MaxBatch images, waiting at most MaxDelay for more) and run it
// through the model in one call. A lone request goes through at once; under
// load a batch forms while the previous one runs. Admission is bounded (see
// admission): a request that finds the bound reached is answered 503 at
// once instead of waiting in an unbounded queue.

// ErrBusy is returned when the admission queue is full.
var ErrBusy = errors.New("server busy")

// busyRetryAfter is the Retry-After of a queue-full 503, in seconds: the
// queue drains in well under a second, so a short wait is enough.
const busyRetryAfter = "1"

// job is one request's images waiting for the model.
type job struct {
	ctx      context.Context
	imgs     [][]byte
	enqueued time.Time
	done     chan jobResult // buffered: a batcher never blocks on a caller
}

// jobResult is the model's answer for one job.
type jobResult struct {
	probs   [][model.Classes]float32
	version string
	err     error
}

// busyMessage is the error of every queue-full 503.
const busyMessage = "server busy: the queue is full, try again shortly"

// batcher owns the admission bound, the queue and the goroutines that run
// batches through the model.
type batcher struct {
	s        *Server
	maxBatch int
	maxDelay time.Duration
	bound    *admission
	queue    chan *job
	stop     chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
}

func newBatcher(s *Server, workers, maxBatch, queueLen int, maxDelay, queueLatency time.Duration) *batcher {
	b := &batcher{
		s:        s,
		maxBatch: maxBatch,
		maxDelay: maxDelay,
		bound:    newAdmission(queueLen, queueLatency),
		queue:    make(chan *job, queueLen),
		stop:     make(chan struct{}),
	}
	for range workers {
		b.wg.Go(b.run)
	}
	return b
}

// close stops the batcher goroutines once the jobs already queued are done.
func (b *batcher) close() {
	b.once.Do(func() { close(b.stop) })
	b.wg.Wait()
}

// admit takes an admission slot, or answers ErrBusy when the bound is
// reached. The caller calls release once its answer is decided (stored or
// failed).
func (b *batcher) admit() (release func(), err error) {
	if !b.bound.take() {
		return nil, &Error{Status: http.StatusServiceUnavailable, Err: ErrBusy, Message: busyMessage}
	}
	admitted := time.Now()
	return func() {
		took := time.Since(admitted)
		b.s.metrics.admitted.Observe(took.Seconds())
		b.bound.done(took)
	}, nil
}

// full reports whether a request arriving now would be refused.
func (b *batcher) full() bool { return b.bound.full() }

// predict runs imgs through the model in a batch with whatever else is
// waiting, returning their probabilities and the model version that
// answered. The caller holds an admission slot, so the queue has room.
func (b *batcher) predict(ctx context.Context, imgs [][]byte) ([][model.Classes]float32, string, error) {
	j := &job{ctx: ctx, imgs: imgs, enqueued: time.Now(), done: make(chan jobResult, 1)}
	select {
	case b.queue <- j:
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
	select {
	case r := <-j.done:
		return r.probs, r.version, r.err
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
}

// run takes batches off the queue until stop, then finishes what is queued.
func (b *batcher) run() {
	var carry *job // taken off the queue but did not fit the last batch
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-b.queue:
			case <-b.stop:
				select {
				case first = <-b.queue:
				default:
					return
				}
			}
		}
		var batch []*job
		batch, carry = b.gather(first)
		b.runBatch(batch)
	}
}

// gather adds to first the jobs waiting in the queue while the batch holds
// fewer than maxBatch images, waiting up to maxDelay for more. A job that
// would overflow the batch is returned as carry, to start the next one; a
// job larger than maxBatch on its own makes a batch by itself.
func (b *batcher) gather(first *job) (batch []*job, carry *job) {
	batch = []*job{first}
	n := len(first.imgs)
	var timeout <-chan time.Time
	if b.maxDelay > 0 {
		t := time.NewTimer(b.maxDelay)
		defer t.Stop()
		timeout = t.C
	}
	for n < b.maxBatch {
		var j *job
		select {
		case j = <-b.queue:
		default:
			if timeout == nil {
				return batch, nil
			}
			select {
			case j = <-b.queue:
			case <-timeout:
				return batch, nil
			}
		}
		if n+len(j.imgs) > b.maxBatch {
			return batch, j
		}
		batch = append(batch, j)
		n += len(j.imgs)
	}
	return batch, nil
}

// runBatch runs the images of every live job in one model call and hands
// each job its share of the answer.
func (b *batcher) runBatch(batch []*job) {
	now := time.Now()
	live := batch[:0]
	var imgs [][]byte
	for _, j := range batch {
		b.s.metrics.queueWait.Observe(now.Sub(j.enqueued).Seconds())
		if err := j.ctx.Err(); err != nil {
			j.done <- jobResult{err: err} // its client is gone or timed out
			continue
		}
		live = append(live, j)
		imgs = append(imgs, j.imgs...)
	}
	if len(live) == 0 {
		return
	}
	m, err := b.s.currentModel()
	if err != nil {
		for _, j := range live {
			j.done <- jobResult{err: err}
		}
		return
	}
	b.s.metrics.modelBatch.Observe(float64(len(imgs)))
	probs, err := b.callModel(m, imgs)
	if err == nil && len(probs) != len(imgs) {
		err = fmt.Errorf("model answered %d probability vectors for %d images", len(probs), len(imgs))
	}
	version := m.Meta().Version
	off := 0
	for _, j := range live {
		if err != nil {
			j.done <- jobResult{err: fmt.Errorf("predict %d images: %w", len(imgs), err)}
			continue
		}
		j.done <- jobResult{probs: probs[off : off+len(j.imgs) : off+len(j.imgs)], version: version}
		off += len(j.imgs)
	}
}

// callModel runs one model call, turning a panic into an error: the batcher
// goroutine outlives any request, so a panic must not escape it.
func (b *batcher) callModel(m Model, imgs [][]byte) (probs [][model.Classes]float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			b.s.logger.Error("panic in model", "error", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic in model: %v", r)
		}
	}()
	// The batch serves several requests, so no one request's deadline may
	// cut it short; each request still stops waiting at its own deadline.
	ctx, cancel := context.WithTimeout(context.Background(), b.s.cfg.Timeout)
	defer cancel()
	return m.Predict(ctx, imgs)
}
