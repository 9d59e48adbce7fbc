package model

import (
	"context"
	"math"
	"testing"

	G "gorgonia.org/gorgonia"

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

// TestInferenceMatchesTheTrainingGraph checks the predictor's own forward
// pass (im2col-free second convolution, full-row pooling, dot-product
// dense layer) against the Gorgonia training graph with dropout off, whose
// softmax-cross-entropy op keeps the probabilities.
func TestInferenceMatchesTheTrainingGraph(t *testing.T) {
	set := loadTest(t)
	const n = 24
	w := trainSteps(t, set, 2, 3)
	team := kernels.NewTeam(2)
	defer team.Close()
	net, err := buildNetwork(w, n, team)
	if err != nil {
		t.Fatal(err)
	}
	for i := range net.dropout.mask {
		net.dropout.mask[i] = 1
	}
	vm := G.NewTapeMachine(net.g, G.BindDualValues(net.params...))
	defer vm.Close()
	imgs := images(set, 300, 300+n)
	x := net.xVal.Data().([]float32)
	for i, img := range imgs {
		for j, v := range img {
			x[i*Pixels+j] = float32(v) / 255
		}
	}
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	p := NewPredictor(w, Meta{})
	defer p.Close()
	got, err := p.Predict(context.Background(), imgs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		for d := range got[i] {
			want := net.xent.probs[i*Classes+d]
			if diff := math.Abs(float64(got[i][d] - want)); diff > 1e-5 {
				t.Fatalf("image %d digit %d: predictor %v, graph %v", i, d, got[i][d], want)
			}
		}
	}
}
