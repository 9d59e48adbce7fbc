// Package pipeline is the prediction service behind every front door (our
// JSON routes, Open Inference Protocol v2 over REST and over gRPC): it
// admits a request or refuses it at once (admission), runs its images
// through the model batched with other requests' (batch), stores every
// answer group-committed with other requests' rows (commit), and only then
// hands back the answers. A transport decodes its own request, calls
// Admit then Predict, and encodes the results or the typed error; it knows
// nothing of queues or the database.
//
// Each stage is a function of its own (Admit, infer, commit) so that
// metrics and traces can wrap them.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/store"
)

// Model is a network that answers the 10 class probabilities of each
// 784-byte image. *model.Predictor satisfies it.
type Model interface {
	Predict(ctx context.Context, images [][]byte) ([][model.Classes]float32, error)
	Meta() model.Meta
}

// Store keeps the answers; its Create returns once the rows are committed
// (filling in their ids). *store.Store satisfies it.
type Store interface {
	Create(ctx context.Context, ps []*store.Prediction) error
}

var (
	// ErrBusy is returned by Admit when the admission bound is reached.
	ErrBusy = errors.New("server busy")
	// ErrNotReady is returned while no model is served.
	ErrNotReady = errors.New("not ready")
	// ErrClosed is returned by Admit once Close has begun.
	ErrClosed = errors.New("server shutting down")
)

// Config holds the pipeline's limits; see serve.Config for their flags.
type Config struct {
	Workers     int           // batches run at once (one per core)
	MaxBatch    int           // most images in one model call
	MaxDelay    time.Duration // longest a batch waits for more requests
	QueueLength int           // most requests admitted at once
	// QueueLatency is the admitted requests' latency the admission bound
	// aims at (see admission); 0 keeps the bound at QueueLength.
	QueueLatency time.Duration
	// ModelTimeout bounds one model call, which serves several requests
	// and so cannot take any one request's deadline.
	ModelTimeout time.Duration
	// Tracer makes the spans of trace.go; nil makes none.
	Tracer trace.Tracer
}

// Hooks are told what happens in the pipeline, for metrics and logs. Any
// of them may be nil; each must be quick and safe for concurrent use.
type Hooks struct {
	Admitted   func(ctx context.Context, took time.Duration) // an admitted request (ctx: Admit's) was answered or failed
	QueueWait  func(waited time.Duration)                    // a request waited this long before its model call
	ModelBatch func(images int)                              // one model call ran this many images
	Committed  func(rows []*store.Prediction, took time.Duration)
	Panic      func(v any, stack []byte) // the model panicked
}

// Request is what a front door submits once it has decoded the images.
type Request struct {
	// Client names who asked, stored with every row; nil is anonymous.
	Client *string
	// Images are 784-byte MNIST images, one byte a pixel.
	Images [][]byte
	// Model answers instead of the served model when set (a client asked
	// for another version by name); it runs alone, not batched.
	Model Model
	// Mark, when set, is given the rows before they are stored, to add
	// what the front door keeps with them (an Idempotency-Key).
	Mark func(rows []*store.Prediction)
}

// Result is the stored answer for one image.
type Result struct {
	Prediction    int
	Confidence    float32
	Probabilities [model.Classes]float32
	ID            int64 // the stored row
	ModelVersion  string
}

// Pipeline owns the admission bound, the queue and the batcher goroutines.
type Pipeline struct {
	cfg     Config
	current func() (Model, error) // the served model, or ErrNotReady
	store   Store
	hooks   Hooks
	tracer  trace.Tracer // nil: no spans
	bound   *admission
	queue   chan *job
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once

	// mu makes closing and admitting exclusive, so that no request is
	// admitted once Close waits for those in flight.
	mu       sync.RWMutex
	closed   bool
	inflight sync.WaitGroup // admitted requests not yet released
}

// New starts a pipeline that asks current for the served model and stores
// into st. Close stops it.
func New(cfg Config, current func() (Model, error), st Store, hooks Hooks) *Pipeline {
	cfg.Workers = max(cfg.Workers, 1)
	cfg.MaxBatch = max(cfg.MaxBatch, 1)
	cfg.QueueLength = max(cfg.QueueLength, 1)
	if cfg.ModelTimeout <= 0 {
		cfg.ModelTimeout = 10 * time.Second
	}
	p := &Pipeline{
		cfg:     cfg,
		current: current,
		store:   st,
		hooks:   hooks,
		tracer:  cfg.Tracer,
		bound:   newAdmission(cfg.QueueLength, cfg.QueueLatency),
		queue:   make(chan *job, cfg.QueueLength),
		stop:    make(chan struct{}),
	}
	p.startBatchers()
	return p
}

// Close refuses new requests (ErrClosed), waits for the admitted ones to
// be answered, whichever front door they came through, then stops the
// batcher goroutines.
func (p *Pipeline) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.inflight.Wait()
	p.once.Do(func() { close(p.stop) })
	p.wg.Wait()
}

// Depth is the number of requests admitted and not yet answered.
func (p *Pipeline) Depth() int64 { return p.bound.depth.Load() }

// Goal is the admitted requests' latency the admission bound aims at; 0: none.
func (p *Pipeline) Goal() time.Duration { return p.bound.goal }

// Limit is the admission bound now.
func (p *Pipeline) Limit() int64 { return p.bound.limit.Load() }

// Full reports whether a request arriving now would be refused.
func (p *Pipeline) Full() bool { return p.bound.full() }

// Ticket is an admitted request's slot; Release gives it back once the
// answer is decided (stored or failed).
type Ticket struct {
	p        *Pipeline
	ctx      context.Context // Admit's, for the Admitted hook
	admitted time.Time
	once     sync.Once
}

// Admit checks that a model is served and takes an admission slot, so that
// a request the server cannot take now is refused at once, before its body
// is decoded. It returns ErrNotReady or ErrBusy. ctx carries the request's
// span, for tracing; Admit itself never waits.
func (p *Pipeline) Admit(ctx context.Context) (*Ticket, error) {
	t, err := p.admit(ctx)
	p.traceAdmit(ctx, err)
	return t, err
}

func (p *Pipeline) admit(ctx context.Context) (*Ticket, error) {
	if _, err := p.current(); err != nil {
		return nil, err
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return nil, ErrClosed
	}
	if !p.bound.take() {
		return nil, ErrBusy
	}
	p.inflight.Add(1)
	return &Ticket{p: p, ctx: ctx, admitted: time.Now()}, nil
}

// Release gives the slot back; calling it again does nothing.
func (t *Ticket) Release() {
	t.once.Do(func() {
		took := time.Since(t.admitted)
		if h := t.p.hooks.Admitted; h != nil {
			h(t.ctx, took)
		}
		t.p.bound.done(took)
		t.p.inflight.Done()
	})
}

// Predict runs req's images through the model and stores every answer,
// returning the answers only once they are committed. The caller holds a
// Ticket; ctx carries the request's deadline.
func (p *Pipeline) Predict(ctx context.Context, req Request) ([]Result, error) {
	probs, version, err := p.infer(ctx, req)
	if err != nil {
		return nil, err
	}
	return p.commit(ctx, req, probs, version)
}

// infer is the model stage: the served model, batched with other
// requests, or the model the request names, alone.
func (p *Pipeline) infer(ctx context.Context, req Request) ([][model.Classes]float32, string, error) {
	if req.Model == nil {
		return p.batched(ctx, req.Images)
	}
	version := req.Model.Meta().Version
	var span trace.Span
	if p.tracer != nil { // not even the options are made without a tracer
		_, span = p.tracer.Start(ctx, SpanModel, trace.WithAttributes(attribute.String("model.version", version)))
	}
	probs, err := p.callModel(req.Model, req.Images)
	if err == nil && len(probs) != len(req.Images) {
		err = fmt.Errorf("model answered %d probability vectors for %d images", len(probs), len(req.Images))
	}
	if err != nil {
		err = fmt.Errorf("predict %d images: %w", len(req.Images), err)
	}
	endSpan(span, err)
	if err != nil {
		return nil, "", err
	}
	return probs, version, nil
}

// commit is the storage stage: one row per image, group-committed with
// other requests' rows.
func (p *Pipeline) commit(ctx context.Context, req Request, probs [][model.Classes]float32, version string) ([]Result, error) {
	rows := make([]*store.Prediction, len(req.Images))
	for i, pr := range probs {
		d := model.Best(pr)
		rows[i] = &store.Prediction{
			Image:         req.Images[i],
			Prediction:    d,
			Confidence:    pr[d],
			Probabilities: store.Probabilities(pr),
			ModelVersion:  version,
			Client:        req.Client,
		}
	}
	if req.Mark != nil {
		req.Mark(rows)
	}
	var span trace.Span
	if p.tracer != nil {
		ctx, span = p.tracer.Start(ctx, SpanCommit)
	}
	start := time.Now()
	err := p.store.Create(ctx, rows)
	if err != nil {
		err = fmt.Errorf("store %d predictions: %w", len(rows), err)
	}
	endSpan(span, err)
	if err != nil {
		return nil, err
	}
	if h := p.hooks.Committed; h != nil {
		h(rows, time.Since(start))
	}
	out := make([]Result, len(rows))
	for i, r := range rows {
		out[i] = Result{
			Prediction:    r.Prediction,
			Confidence:    r.Confidence,
			Probabilities: probs[i],
			ID:            r.ID,
			ModelVersion:  version,
		}
	}
	return out, nil
}
