package model

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/mnistserve/app/internal/kernels"
)

// ErrBadImage is returned by Predict for an image that is not 784 bytes.
var ErrBadImage = errors.New("image must be 784 bytes (28x28)")

// Predictor answers class probabilities for 28x28 byte images. It is safe
// for concurrent use: each call borrows a machine (buffers) of its own,
// creating up to GOMAXPROCS of them.
type Predictor struct {
	meta    Meta
	w       *inferWeights
	limit   int
	workers int
	idle    chan *machine

	mu      sync.Mutex // guards created, and closed against put
	created int
	closed  bool
	done    chan struct{} // closed by Close, waking calls waiting for a machine
}

// NewPredictor returns a predictor for weights w described by meta. It
// copies w: later changes to w (a Trainer's steps) are not seen.
func NewPredictor(w *Weights, meta Meta) *Predictor {
	limit := runtime.GOMAXPROCS(0)
	return &Predictor{meta: meta, w: newInferWeights(w), limit: limit, workers: kernels.Workers(), idle: make(chan *machine, limit), done: make(chan struct{})}
}

// Meta returns the metadata of the model the predictor serves.
func (p *Predictor) Meta() Meta { return p.meta }

// Version returns the version of the served model.
func (p *Predictor) Version() string { return p.meta.Version }

// Predict returns the 10 probabilities of each image (784 bytes, row by
// row, white digit on black as in MNIST).
func (p *Predictor) Predict(ctx context.Context, images [][]byte) ([][Classes]float32, error) {
	out := make([][Classes]float32, len(images))
	if err := p.PredictInto(ctx, images, out); err != nil {
		return nil, err
	}
	return out, nil
}

// PredictInto is Predict writing into out, which must hold len(images)
// rows; it allocates nothing.
func (p *Predictor) PredictInto(ctx context.Context, images [][]byte, out [][Classes]float32) error {
	if len(out) < len(images) {
		return fmt.Errorf("%d result rows for %d images", len(out), len(images))
	}
	for i, img := range images {
		if len(img) != Pixels {
			return fmt.Errorf("image %d has %d bytes: %w", i, len(img), ErrBadImage)
		}
	}
	if len(images) == 0 {
		return nil
	}
	m, err := p.get(ctx)
	if err != nil {
		return err
	}
	defer p.put(m)
	for lo := 0; lo < len(images); lo += chunk {
		hi := min(len(images), lo+chunk)
		for i, img := range images[lo:hi] {
			row := m.x[i*Pixels : (i+1)*Pixels]
			for j, v := range img {
				row[j] = float32(v) / 255
			}
		}
		m.run(p.w, hi-lo)
		for i := lo; i < hi; i++ {
			copy(out[i][:], m.probs[(i-lo)*Classes:(i-lo+1)*Classes])
		}
	}
	return nil
}

// get borrows an idle machine, builds one when fewer than the limit
// exist, or waits for one to come back.
func (p *Predictor) get(ctx context.Context) (*machine, error) {
	select {
	case m := <-p.idle:
		return m, nil
	default:
	}
	p.mu.Lock()
	if p.created < p.limit {
		p.created++
		p.mu.Unlock()
		return newMachine(p.workers), nil
	}
	p.mu.Unlock()
	select {
	case m := <-p.idle:
		return m, nil
	case <-p.done:
		// Closed: machines no longer come back, so build one for this
		// call alone; put drops it.
		return newMachine(p.workers), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// put gives m back to the pool, or drops it once the predictor is closed,
// so that a model swapped out under load keeps no buffers alive.
func (p *Predictor) put(m *machine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.idle <- m
	}
}

// Close drops the idle machines' buffers. Calls to Predict still running
// may finish, and later calls still work, each machine being dropped as it
// comes back: a server can close the model it just swapped out while
// requests that started with it are in flight.
func (p *Predictor) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	close(p.done)
	for {
		select {
		case <-p.idle:
		default:
			return nil
		}
	}
}
