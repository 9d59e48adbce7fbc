package model

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	G "gorgonia.org/gorgonia"

	"github.com/mnistserve/app/internal/kernels"
)

// ErrBadImage is returned by Predict for an image that is not 784 bytes.
var ErrBadImage = errors.New("image must be 784 bytes (28x28)")

// buckets are the batch sizes inference graphs are built for; a request is
// cut into chunks of at most the largest and each chunk padded up to the
// smallest bucket that holds it.
var buckets = []int{1, 2, 4, 8, 16, 32, 64}

// machine is one inference graph with its tape machine. A tape machine is
// not safe for concurrent use, so each is used by one goroutine at a time.
type machine struct {
	net *network
	vm  G.VM
}

// pool holds the idle machines of one bucket and counts those in use.
type pool struct {
	idle    chan *machine
	mu      sync.Mutex
	created int
}

// Predictor answers class probabilities for 28x28 byte images. It is safe
// for concurrent use: each call borrows a machine of its own from a pool
// per batch size, creating up to GOMAXPROCS machines per size.
type Predictor struct {
	meta  Meta
	w     *Weights
	limit int
	pools []*pool

	mu     sync.Mutex // guards closed against put
	closed bool
	done   chan struct{} // closed by Close, waking calls waiting for a machine
}

// NewPredictor returns a predictor for weights w described by meta. w is
// only read, and may be shared with a Trainer to evaluate it as it trains.
func NewPredictor(w *Weights, meta Meta) *Predictor {
	limit := runtime.GOMAXPROCS(0)
	p := &Predictor{meta: meta, w: w, limit: limit, done: make(chan struct{})}
	for range buckets {
		p.pools = append(p.pools, &pool{idle: make(chan *machine, limit)})
	}
	return p
}

// Meta returns the metadata of the model the predictor serves.
func (p *Predictor) Meta() Meta { return p.meta }

// Version returns the version of the served model.
func (p *Predictor) Version() string { return p.meta.Version }

// Predict returns the 10 probabilities of each image (784 bytes, row by
// row, white digit on black as in MNIST).
func (p *Predictor) Predict(ctx context.Context, images [][]byte) ([][Classes]float32, error) {
	for i, img := range images {
		if len(img) != Pixels {
			return nil, fmt.Errorf("image %d has %d bytes: %w", i, len(img), ErrBadImage)
		}
	}
	out := make([][Classes]float32, len(images))
	largest := buckets[len(buckets)-1]
	for lo := 0; lo < len(images); lo += largest {
		hi := min(len(images), lo+largest)
		if err := p.predictChunk(ctx, images[lo:hi], out[lo:hi]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (p *Predictor) predictChunk(ctx context.Context, images [][]byte, out [][Classes]float32) error {
	b := 0
	for buckets[b] < len(images) {
		b++
	}
	m, err := p.get(ctx, b)
	if err != nil {
		return err
	}
	defer p.put(b, m)
	x := m.net.xVal.Data().([]float32)
	for i, img := range images {
		row := x[i*Pixels : (i+1)*Pixels]
		for j, v := range img {
			row[j] = float32(v) / 255
		}
	}
	clear(x[len(images)*Pixels:])
	defer m.vm.Reset()
	if err := m.vm.RunAll(); err != nil {
		return fmt.Errorf("inference: %w", err)
	}
	probs := m.net.probs.out.Data().([]float32)
	for i := range out {
		copy(out[i][:], probs[i*Classes:(i+1)*Classes])
	}
	return nil
}

// get borrows an idle machine of bucket b, builds one when fewer than the
// limit exist, or waits for one to come back.
func (p *Predictor) get(ctx context.Context, b int) (*machine, error) {
	pl := p.pools[b]
	select {
	case m := <-pl.idle:
		return m, nil
	default:
	}
	pl.mu.Lock()
	if pl.created < p.limit {
		pl.created++
		pl.mu.Unlock()
		m, err := p.build(buckets[b])
		if err != nil {
			pl.mu.Lock()
			pl.created--
			pl.mu.Unlock()
		}
		return m, err
	}
	pl.mu.Unlock()
	select {
	case m := <-pl.idle:
		return m, nil
	case <-p.done:
		// Closed: machines no longer come back, so build one for this
		// call alone; put closes it.
		return p.build(buckets[b])
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// put gives m back to its pool, or closes it once the predictor is closed,
// so that a model swapped out under load keeps no machine alive.
func (p *Predictor) put(b int, m *machine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		m.vm.Close()
		return
	}
	p.pools[b].idle <- m
}

func (p *Predictor) build(n int) (*machine, error) {
	// Small batches run on one core: concurrent requests fill the others.
	workers := 1
	if n >= 16 {
		workers = kernels.Workers()
	}
	net, err := buildNetwork(p.w, n, workers, false)
	if err != nil {
		return nil, err
	}
	return &machine{net: net, vm: G.NewTapeMachine(net.g)}, nil
}

// Close releases the idle machines. Calls to Predict still running may
// finish, and later calls still work, each machine being closed as it comes
// back: a server can close the model it just swapped out while requests
// that started with it are in flight.
func (p *Predictor) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	close(p.done)
	for _, pl := range p.pools {
		for {
			select {
			case m := <-pl.idle:
				m.vm.Close()
				continue
			default:
			}
			break
		}
	}
	return nil
}
