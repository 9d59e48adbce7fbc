package model

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// xentOp is softmax followed by the mean cross-entropy against integer
// labels (given as float32 class indices): a scalar loss. It keeps the
// probabilities, which its gradient and the training accuracy read.
type xentOp struct {
	base
	n, classes int
	probs      []float32
	labels     []int
}

func newXentOp(n, classes int) *xentOp {
	return &xentOp{base: newBase("softmaxXent"), n: n, classes: classes, probs: make([]float32, n*classes), labels: make([]int, n)}
}

func (op *xentOp) Arity() int         { return 2 }
func (op *xentOp) Type() hm.Type      { return fn(tt(2), tt(1), tensor.Float32) }
func (op *xentOp) DiffWRT(int) []bool { return []bool{true, false} }

func (op *xentOp) Do(inputs ...G.Value) (G.Value, error) {
	in, err := args(op, inputs, op.n*op.classes, op.n)
	if err != nil {
		return nil, err
	}
	logits, labels := in[0], in[1]
	softmax(logits, op.probs, op.classes)
	var loss float64
	for i, l := range labels {
		c := int(l)
		if c < 0 || c >= op.classes {
			c = 0
		}
		op.labels[i] = c
		loss -= math.Log(math.Max(float64(op.probs[i*op.classes+c]), 1e-30))
	}
	return G.NewF32(float32(loss / float64(op.n))), nil
}

// Correct counts the rows of the last batch whose most probable class is
// the label.
func (op *xentOp) Correct() int {
	correct := 0
	for i, l := range op.labels {
		if argmax(op.probs[i*op.classes:(i+1)*op.classes]) == l {
			correct++
		}
	}
	return correct
}

func (op *xentOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g := &xentGradOp{base: newBase("softmaxXentGrad", op.n, op.classes), fwd: op}
	g.out = g.dense()
	dl, err := G.ApplyOp(g, output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dl, nil}, nil
}

// xentGradOp gives the gradient of the mean cross-entropy with respect to
// the logits: (softmax - onehot) / n, times the incoming scalar gradient.
// Its first input, the loss, only orders it after the forward pass.
type xentGradOp struct {
	base
	fwd *xentOp
	out *tensor.Dense
}

func (op *xentGradOp) Arity() int    { return 2 }
func (op *xentGradOp) Type() hm.Type { return fn(tensor.Float32, tensor.Float32, tt(2)) }

func (op *xentGradOp) Do(inputs ...G.Value) (G.Value, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("%v: %d inputs, want 2", op, len(inputs))
	}
	g, err := scalar(inputs[1])
	if err != nil {
		return nil, err
	}
	f := op.fwd
	scale := g / float32(f.n)
	d := op.out.Data().([]float32)
	for i := range d {
		d[i] = f.probs[i] * scale
	}
	for i, l := range f.labels {
		d[i*f.classes+l] -= scale
	}
	return op.out, nil
}

// softmax writes the row-wise softmax of logits (rows of classes) to probs.
func softmax(logits, probs []float32, classes int) {
	for r := 0; r+classes <= len(logits); r += classes {
		row := logits[r : r+classes]
		mx := row[0]
		for _, v := range row {
			mx = max(mx, v)
		}
		var sum float64
		for j, v := range row {
			e := math.Exp(float64(v - mx))
			probs[r+j] = float32(e)
			sum += e
		}
		inv := float32(1 / sum)
		for j := range row {
			probs[r+j] *= inv
		}
	}
}

// argmax returns the index of the largest value.
func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
