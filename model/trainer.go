package model

import (
	"errors"
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"

	"github.com/mnistserve/app/internal/kernels"
)

// Trainer runs training steps of the convnet on fixed-size batches: the
// training graph, its tape machine and Gorgonia's Adam solver. It is not
// safe for concurrent use.
type Trainer struct {
	w      *Weights
	net    *network
	vm     G.VM
	solver *adam
	grads  []G.ValueGrad
	rng    *rand.Rand
	team   *kernels.Team
}

// NewTrainer builds the training graph for batches of batch images over w,
// which the steps update in place. seed drives the dropout masks; workers
// is how many goroutines share a step (0: one per core), a kernels.Team
// kept until Close.
func NewTrainer(w *Weights, batch int, lr float64, seed uint64, workers int) (*Trainer, error) {
	if batch < 1 {
		return nil, fmt.Errorf("batch size %d, want at least 1", batch)
	}
	if workers < 1 {
		workers = kernels.Workers()
	}
	team := kernels.NewTeam(workers)
	net, err := buildNetwork(w, batch, team)
	if err != nil {
		team.Close()
		return nil, err
	}
	t := &Trainer{
		w:      w,
		net:    net,
		vm:     G.NewTapeMachine(net.g, G.BindDualValues(net.params...)),
		solver: newAdam(lr),
		grads:  G.NodesToValueGrads(net.params),
		rng:    rand.New(rand.NewPCG(seed, 0x64726f70)),
		team:   team,
	}
	return t, nil
}

// SetLR sets the learning rate of the steps that follow: a schedule calls
// it before each step. Adam's moments carry over unchanged.
func (t *Trainer) SetLR(lr float64) { t.solver.lr = lr }

// Workers returns how many goroutines share a step, the default applied.
func (t *Trainer) Workers() int { return t.team.Workers() }

// Batch returns the number of images a step takes.
func (t *Trainer) Batch() int { return t.net.n }

// Input returns the buffers a caller fills before Step: Batch()*784 pixels
// scaled to [0,1], and Batch() labels.
func (t *Trainer) Input() (x []float32, labels []float32) {
	return t.net.xVal.Data().([]float32), t.net.lVal.Data().([]float32)
}

// Step runs forward, backward and one Adam update on the batch in Input.
// It returns the mean loss and how many images the network (with dropout)
// got right before the update.
func (t *Trainer) Step() (loss float32, correct int, err error) {
	drawMask(t.net.dropout.mask, t.rng)
	defer t.vm.Reset()
	if err := t.vm.RunAll(); err != nil {
		return 0, 0, fmt.Errorf("training step: %w", err)
	}
	l, err := scalar(t.net.out.Value())
	if err != nil {
		return 0, 0, err
	}
	if err := t.solver.Step(t.grads); err != nil {
		return 0, 0, fmt.Errorf("adam step: %w", err)
	}
	return l, t.net.xent.Correct(), nil
}

// Close releases the tape machine and stops the step's helper goroutines.
func (t *Trainer) Close() error {
	if t.vm == nil {
		return errors.New("trainer already closed")
	}
	t.team.Close()
	err := t.vm.Close()
	t.vm = nil
	return err
}

// drawMask fills mask with 0 (dropped) and 1/(1-dropoutRate) (kept), each
// value dropped with probability dropoutRate, which is 1/2: so each value
// takes one bit of the generator, 64 a draw, rather than a draw of its own
// (a float draw per value cost a tenth of a training step).
func drawMask(mask []float32, rng *rand.Rand) {
	const keep = 1 / (1 - dropoutRate)
	var bits uint64
	for i := range mask {
		if i%64 == 0 {
			bits = rng.Uint64()
		}
		mask[i] = keep * float32(bits&1)
		bits >>= 1
	}
}
