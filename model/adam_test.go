package model

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestAdamMovesEveryParameter trains 8 batches through the trainer with
// our Adam: every parameter tensor moves, and the loss falls.
func TestAdamMovesEveryParameter(t *testing.T) {
	set := loadTest(t)
	w := NewWeights(3)
	tr, err := NewTrainer(w, 32, 0.001, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	fillFirst(set, tr)
	var first, last float32
	for s := 0; s < 8; s++ { // the same batch 8 times: its loss must fall
		loss, _, err := tr.Step()
		if err != nil {
			t.Fatal(err)
		}
		if s == 0 {
			first = loss
		}
		last = loss
	}
	if last >= first {
		t.Errorf("loss %v after 8 steps on one batch, %v before: want it lower", last, first)
	}
	start := NewWeights(3)
	for i, p := range w.tensors() {
		s := start.tensors()[i]
		var moved float64
		for j := range p.data {
			moved += math.Abs(float64(p.data[j] - s.data[j]))
		}
		if moved == 0 {
			t.Errorf("%s did not move in 8 steps", p.name)
		}
	}
}

// adamParam is one parameter and its gradient, as the tape machine binds them.
type adamParam struct{ v, g *tensor.Dense }

func (p adamParam) Value() G.Value         { return p.v }
func (p adamParam) Grad() (G.Value, error) { return p.g, nil }

// TestAdamIsKerasAdam checks each step against Keras's Adam written out in
// float64: m and v the moving averages of the gradient and its square,
// w -= lr*sqrt(1-beta2^t)/(1-beta1^t) * m/(sqrt(v)+1e-7). The gradients
// include tiny ones, where PyTorch's form (epsilon 1e-8 added after the
// bias correction) takes a step about 30 times as large on the first step.
func TestAdamIsKerasAdam(t *testing.T) {
	const lr, b1, b2, eps = 0.001, 0.9, 0.999, 1e-7
	grads := [][]float64{
		{0.5, -2, 1e-7, -3e-8},
		{0.25, -1, 2e-7, 1e-8},
		{-0.5, 3, 1e-7, -3e-8},
		{1, 0.5, -1e-7, 0},
	}
	start := []float64{0.1, -0.2, 0.3, 0.05}
	w32 := make([]float32, len(start))
	for i, x := range start {
		w32[i] = float32(x)
	}
	g32 := make([]float32, len(start))
	p := adamParam{v: tensor.New(tensor.WithShape(len(start)), tensor.WithBacking(w32)),
		g: tensor.New(tensor.WithShape(len(start)), tensor.WithBacking(g32))}

	a := newAdam(lr)
	w := append([]float64(nil), start...)
	torch := append([]float64(nil), start...)
	m, v := make([]float64, len(w)), make([]float64, len(w))
	for step, g := range grads {
		for i, x := range g {
			g32[i] = float32(x)
		}
		if err := a.Step([]G.ValueGrad{p}); err != nil {
			t.Fatal(err)
		}
		n := float64(step + 1)
		c1, c2 := 1-math.Pow(b1, n), 1-math.Pow(b2, n)
		for i, x := range g {
			m[i] = b1*m[i] + (1-b1)*x
			v[i] = b2*v[i] + (1-b2)*x*x
			w[i] -= lr * math.Sqrt(c2) / c1 * m[i] / (math.Sqrt(v[i]) + eps)
			torch[i] -= lr * (m[i] / c1) / (math.Sqrt(v[i]/c2) + 1e-8)
		}
		for i := range w {
			if d := math.Abs(float64(w32[i]) - w[i]); d > 1e-6*math.Max(1, math.Abs(w[i])) {
				t.Fatalf("step %d, weight %d: %v, Keras's Adam gives %v", step+1, i, w32[i], w[i])
			}
		}
		if g32[0] != 0 {
			t.Fatalf("step %d: the gradient was not cleared for the next step", step+1)
		}
	}
	// The tiny gradients tell the two forms apart: this test would fail
	// with PyTorch's.
	if d := math.Abs(torch[2] - w[2]); d < 1e-4 {
		t.Fatalf("weight 2: PyTorch's form %v and Keras's %v too close for the test to tell them apart", torch[2], w[2])
	}
}
