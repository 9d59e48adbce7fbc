package model

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/mnistserve/app/internal/kernels"
)

// TestGradientsMatchFiniteDifferences checks every custom op's backward
// pass at once: the gradient Gorgonia assembles from them must match the
// slope of the loss measured by nudging single weights.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	const n = 3
	w := NewWeights(7)
	rng := rand.New(rand.NewPCG(3, 4))
	// biases away from zero so the ReLUs see both signs
	for _, b := range [][]float32{w.Conv1B, w.Conv2B, w.DenseB} {
		for i := range b {
			b[i] = float32(rng.NormFloat64() * 0.1)
		}
	}
	team := kernels.NewTeam(2)
	defer team.Close()
	net, err := buildNetwork(w, n, team)
	if err != nil {
		t.Fatal(err)
	}
	for i := range net.dropout.mask {
		net.dropout.mask[i] = float32(rng.IntN(2) * 2) // a fixed mask of 0 and 2
	}
	x := net.xVal.Data().([]float32)
	for i := range x {
		x[i] = rng.Float32()
	}
	labels := net.lVal.Data().([]float32)
	for i := range labels {
		labels[i] = float32(rng.IntN(Classes))
	}
	vm := G.NewTapeMachine(net.g, G.BindDualValues(net.params...))
	defer vm.Close()
	lossAt := func() float64 {
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		defer vm.Reset()
		l, err := scalar(net.out.Value())
		if err != nil {
			t.Fatal(err)
		}
		return float64(l)
	}
	lossAt()
	grads := make([][]float32, len(net.params))
	for i, p := range net.params {
		g, err := p.Grad()
		if err != nil {
			t.Fatal(err)
		}
		grads[i] = append([]float32(nil), g.Data().([]float32)...)
	}
	for pi, p := range w.tensors() {
		t.Run(p.name+" gradient matches the finite difference", func(t *testing.T) {
			// Max-pool and ReLU kinks make a finite difference wrong now and
			// then, so most checks must agree closely and all roughly.
			checked, close := 0, 0
			for trial := 0; trial < 40 && checked < 8; trial++ {
				i := rng.IntN(len(p.data))
				want := float64(grads[pi][i])
				orig := p.data[i]
				const h = 5e-4
				p.data[i] = orig + h
				up := lossAt()
				p.data[i] = orig - h
				down := lossAt()
				p.data[i] = orig
				got := (up - down) / (2 * h)
				if math.Abs(got) < 1e-4 && math.Abs(want) < 1e-4 {
					continue // flat here (a dead ReLU): nothing to compare
				}
				checked++
				scale := math.Max(math.Abs(got), math.Abs(want))
				if math.Abs(got-want) <= 0.05*scale+2e-4 {
					close++
				} else if math.Abs(got-want) > 0.3*scale+2e-4 {
					t.Errorf("d loss / d %s[%d]: backprop %.6f, finite difference %.6f", p.name, i, want, got)
				}
			}
			if checked < 4 {
				t.Fatalf("only %d weights of %s had a nonzero gradient", checked, p.name)
			}
			if close < checked*3/4 {
				t.Errorf("%s: backprop agreed with the finite difference within 5%% for %d of %d weights", p.name, close, checked)
			}
		})
	}
}
