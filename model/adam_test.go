package model

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
)

// TestAdamMatchesGorgoniasAdamSolver trains the same batches twice, once
// with Gorgonia's AdamSolver and once with ours: the weights must agree.
func TestAdamMatchesGorgoniasAdamSolver(t *testing.T) {
	set := loadTest(t)
	run := func(solver G.Solver) *Weights {
		w := NewWeights(3)
		tr, err := NewTrainer(w, 32, 0.001, 3, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		if solver != nil {
			tr.solver = solver
		}
		x, y := tr.Input()
		lbl := make([]byte, 32)
		for s := 0; s < 8; s++ {
			idx := make([]int, 32)
			for i := range idx {
				idx[i] = s*32 + i
			}
			set.Fill(idx, x, lbl)
			for i, l := range lbl {
				y[i] = float32(l)
			}
			if _, _, err := tr.Step(); err != nil {
				t.Fatal(err)
			}
		}
		return w
	}
	ours := run(nil)
	theirs := run(G.NewAdamSolver(G.WithLearnRate(0.001)))
	start := NewWeights(3)
	for i, p := range ours.tensors() {
		q, s := theirs.tensors()[i], start.tensors()[i]
		var moved float64
		for j := range p.data {
			if d := math.Abs(float64(p.data[j] - q.data[j])); d > 1e-4 {
				t.Fatalf("%s[%d]: ours %v, Gorgonia's %v", p.name, j, p.data[j], q.data[j])
			}
			moved += math.Abs(float64(p.data[j] - s.data[j]))
		}
		if moved == 0 {
			t.Fatalf("%s did not move in 8 steps", p.name)
		}
	}
}
