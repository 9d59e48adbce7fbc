package model

import (
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// dropoutOp multiplies its input by a mask of 0 and 1/(1-rate) that the
// trainer draws before each step from its own seeded generator: Gorgonia's
// dropout seeds itself from the clock, which would make runs unrepeatable.
type dropoutOp struct {
	base
	mask []float32
	out  *tensor.Dense
}

func newDropoutOp(shape tensor.Shape) *dropoutOp {
	op := &dropoutOp{base: newBase("dropout", shape...)}
	op.mask = make([]float32, shape.TotalSize())
	for i := range op.mask {
		op.mask[i] = 1
	}
	op.out = op.dense()
	return op
}

func (op *dropoutOp) Arity() int         { return 1 }
func (op *dropoutOp) Type() hm.Type      { return fn(tt(len(op.shape)), tt(len(op.shape))) }
func (op *dropoutOp) DiffWRT(int) []bool { return []bool{true} }

func (op *dropoutOp) Do(inputs ...G.Value) (G.Value, error) {
	in, err := args(op, inputs, len(op.mask))
	if err != nil {
		return nil, err
	}
	x := in[0]
	y := op.out.Data().([]float32)
	for i, m := range op.mask {
		y[i] = x[i] * m
	}
	return op.out, nil
}

func (op *dropoutOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g := &dropoutGradOp{base: newBase("dropoutGrad", op.shape...), fwd: op}
	g.out = g.dense()
	dx, err := G.ApplyOp(g, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

// dropoutGradOp passes the gradient through the same mask.
type dropoutGradOp struct {
	base
	fwd *dropoutOp
	out *tensor.Dense
}

func (op *dropoutGradOp) Arity() int    { return 1 }
func (op *dropoutGradOp) Type() hm.Type { return fn(tt(len(op.shape)), tt(len(op.shape))) }

func (op *dropoutGradOp) Do(inputs ...G.Value) (G.Value, error) {
	in, err := args(op, inputs, len(op.fwd.mask))
	if err != nil {
		return nil, err
	}
	dy := in[0]
	dx := op.out.Data().([]float32)
	for i, m := range op.fwd.mask {
		dx[i] = dy[i] * m
	}
	return op.out, nil
}
