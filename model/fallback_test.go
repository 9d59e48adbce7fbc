package model

import (
	"context"
	"math"
	"testing"

	"github.com/mnistserve/app/internal/kernels"
)

// TestPortableKernelsAgreeWithAssembly trains and predicts once with the
// assembly kernels and once with the portable Go ones: a CPU without
// AVX-512 must get the same network, up to float rounding.
func TestPortableKernelsAgreeWithAssembly(t *testing.T) {
	set := loadTest(t)
	run := func(asm bool) ([][Classes]float32, *Weights) {
		was := kernels.UseAssembly(asm)
		defer kernels.UseAssembly(was)
		w := trainSteps(t, set, 4, 3)
		p := NewPredictor(w, Meta{})
		defer p.Close()
		out, err := p.Predict(context.Background(), images(set, 100, 140))
		if err != nil {
			t.Fatal(err)
		}
		return out, w
	}
	fast, wf := run(true)
	slow, ws := run(false)
	for i := range fast {
		for d := range fast[i] {
			if diff := math.Abs(float64(fast[i][d] - slow[i][d])); diff > 1e-4 {
				t.Fatalf("image %d digit %d: assembly %v, portable %v", i, d, fast[i][d], slow[i][d])
			}
		}
	}
	for i, p := range wf.tensors() {
		q := ws.tensors()[i]
		for j := range p.data {
			if diff := math.Abs(float64(p.data[j] - q.data[j])); diff > 1e-4 {
				t.Fatalf("%s[%d] after 3 steps: assembly %v, portable %v", p.name, j, p.data[j], q.data[j])
			}
		}
	}
}
