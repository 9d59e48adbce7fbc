package model

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
)

// adam is the Adam optimiser (Kingma and Ba) as Keras applies it, the
// reference's optimiser: epsilon 1e-7, added to the square root of the
// second moment before its bias correction (PyTorch adds 1e-8 after it),
// behind Gorgonia's Solver interface. Gorgonia's own AdamSolver gives
// the same updates but clones every gradient on every step, about 630 kB a
// step; this one keeps its moments in slices and allocates nothing.
type adam struct {
	lr, beta1, beta2, eps float64
	t                     int
	m, v                  [][]float32
}

var _ G.Solver = (*adam)(nil)

func newAdam(lr float64) *adam {
	return &adam{lr: lr, beta1: 0.9, beta2: 0.999, eps: 1e-7}
}

// Step applies one update to each parameter from the gradient bound to it.
func (a *adam) Step(params []G.ValueGrad) error {
	if a.m == nil {
		for _, p := range params {
			n := p.Value().Shape().TotalSize()
			a.m = append(a.m, make([]float32, n))
			a.v = append(a.v, make([]float32, n))
		}
	}
	if len(params) != len(a.m) {
		return fmt.Errorf("adam: %d parameters, first step had %d", len(params), len(a.m))
	}
	a.t++
	c1 := 1 - math.Pow(a.beta1, float64(a.t))
	c2 := 1 - math.Pow(a.beta2, float64(a.t))
	// The bias corrections fold into the step size, as Keras does.
	step := float32(a.lr * math.Sqrt(c2) / c1)
	eps := float32(a.eps)
	b1, b2 := float32(a.beta1), float32(a.beta2)
	for i, p := range params {
		gv, err := p.Grad()
		if err != nil {
			return fmt.Errorf("adam: %w", err)
		}
		w, err := floats(p.Value(), len(a.m[i]), "adam weights")
		if err != nil {
			return err
		}
		g, err := floats(gv, len(a.m[i]), "adam gradient")
		if err != nil {
			return err
		}
		m, v := a.m[i], a.v[i]
		for j, gj := range g {
			m[j] = b1*m[j] + (1-b1)*gj
			v[j] = b2*v[j] + (1-b2)*gj*gj
			w[j] -= step * m[j] / (float32(math.Sqrt(float64(v[j]))) + eps)
		}
		// The tape machine adds each step's gradient into the one bound
		// to the parameter, so it must start the next step from zero.
		clear(g)
	}
	return nil
}
