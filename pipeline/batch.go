package pipeline

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mnistserve/app/internal/gather"
	"github.com/mnistserve/app/model"
)

// Dynamic batching, as Triton and TF Serving do it: requests hand their
// images to a queue, and a few batcher goroutines each take what is waiting
// (up to MaxBatch images, waiting at most MaxDelay for more) and run it
// through the model in one call. A lone request goes through at once; under
// load a batch forms while the previous one runs. Admission is bounded (see
// admission), so the queue always has room for an admitted request.

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
	batch   *batchTrace // nil without a tracer
}

// batchTrace is what a request's spans need of the model call that served
// it: when it started and ended, and the batch's span, as the span options
// of each request's queue and model spans. They are made once a batch and
// shared by its requests: made per request, the boxed times and link
// cost 3 allocations a traced request (BenchmarkPredictRouteTraced).
type batchTrace struct {
	queueEnd   []trace.SpanEndOption   // the queue wait ends as the model call starts
	modelStart []trace.SpanStartOption // the model call's start, linked to the batch's span or with its attributes
	modelEnd   []trace.SpanEndOption
}

// newBatchTrace is the batchTrace of a model call from started to
// finished; model says how each request's pipeline.model span ties to it:
// a link to the batch's span, or for a request alone, which has no batch
// span, the batch's attributes.
func newBatchTrace(started, finished time.Time, model trace.SpanStartOption) *batchTrace {
	start := trace.WithTimestamp(started)
	return &batchTrace{
		queueEnd:   []trace.SpanEndOption{start},
		modelStart: []trace.SpanStartOption{start, model},
		modelEnd:   []trace.SpanEndOption{trace.WithTimestamp(finished)},
	}
}

// startBatchers starts the goroutines Close stops.
func (p *Pipeline) startBatchers() {
	loop := gather.Loop[*job]{
		In:    p.queue,
		Stop:  p.stop,
		Limit: p.cfg.MaxBatch,
		Size:  func(j *job) int { return len(j.imgs) },
		Delay: p.cfg.MaxDelay,
		Run:   p.runBatch,
	}
	for range p.cfg.Workers {
		p.wg.Go(loop.Serve)
	}
}

// batched runs imgs through the served model in a batch with whatever else
// is waiting, returning their probabilities and the model version that
// answered.
func (p *Pipeline) batched(ctx context.Context, imgs [][]byte) ([][model.Classes]float32, string, error) {
	j := &job{ctx: ctx, imgs: imgs, enqueued: time.Now(), done: make(chan jobResult, 1)}
	select {
	case p.queue <- j:
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
	select {
	case r := <-j.done:
		p.traceBatched(ctx, j, r)
		return r.probs, r.version, r.err
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
}

// runBatch runs the images of every live job in one model call and hands
// each job its share of the answer.
func (p *Pipeline) runBatch(batch []*job) {
	now := time.Now()
	live := batch[:0]
	var imgs [][]byte
	for _, j := range batch {
		if h := p.hooks.QueueWait; h != nil {
			h(now.Sub(j.enqueued))
		}
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
	m, err := p.current()
	if err != nil {
		for _, j := range live {
			j.done <- jobResult{err: err}
		}
		return
	}
	if h := p.hooks.ModelBatch; h != nil {
		h(len(imgs))
	}
	version := m.Meta().Version
	span := p.batchSpan(live, len(imgs), version, now)
	probs, err := p.callModel(m, imgs)
	if err == nil && len(probs) != len(imgs) {
		err = fmt.Errorf("model answered %d probability vectors for %d images", len(probs), len(imgs))
	}
	if err != nil {
		err = fmt.Errorf("predict %d images: %w", len(imgs), err)
	}
	bt := p.endBatchTrace(span, len(imgs), version, now, time.Now(), err)
	off := 0
	for _, j := range live {
		r := jobResult{version: version, batch: bt}
		if err != nil {
			r.err = err
		} else {
			r.probs = probs[off : off+len(j.imgs) : off+len(j.imgs)]
			off += len(j.imgs)
		}
		j.done <- r
	}
}

// callModel runs one model call, turning a panic into an error: the batcher
// goroutine outlives any request, so a panic must not escape it.
func (p *Pipeline) callModel(m Model, imgs [][]byte) (probs [][model.Classes]float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			if h := p.hooks.Panic; h != nil {
				h(r, debug.Stack())
			}
			err = fmt.Errorf("panic in model: %v", r)
		}
	}()
	// The batch serves several requests, so no one request's deadline may
	// cut it short; each request still stops waiting at its own deadline.
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.ModelTimeout)
	defer cancel()
	return m.Predict(ctx, imgs)
}
