package model

import (
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/mnistserve/app/internal/kernels"
)

// denseOp flattens each of n inputs to in values and gives x·W + b, the
// logits. W is in x out.
type denseOp struct {
	base
	n, in, outs int
	team        *kernels.Team
	xshape      tensor.Shape
	out         *tensor.Dense
}

func newDenseOp(xshape tensor.Shape, outs int, team *kernels.Team) *denseOp {
	n := xshape[0]
	op := &denseOp{base: newBase("dense", n, outs), n: n, in: xshape.TotalSize() / n, outs: outs, team: team, xshape: xshape.Clone()}
	op.out = op.dense()
	return op
}

func (op *denseOp) Arity() int         { return 3 }
func (op *denseOp) Type() hm.Type      { return fn(tt(len(op.xshape)), tt(2), tt(1), tt(2)) }
func (op *denseOp) DiffWRT(int) []bool { return []bool{true, true, true} }

func (op *denseOp) Do(inputs ...G.Value) (G.Value, error) {
	in, err := args(op, inputs, op.n*op.in, op.in*op.outs, op.outs)
	if err != nil {
		return nil, err
	}
	x, w, b := in[0], in[1], in[2]
	y := op.out.Data().([]float32)
	op.team.Parallel(op.n, func(_, lo, hi int) {
		out := y[lo*op.outs : hi*op.outs]
		kernels.SgemmBias(hi-lo, op.outs, op.in, x[lo*op.in:], op.in, w, op.outs, out, op.outs, b, false)
	})
	return op.out, nil
}

func (op *denseOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	gx := &denseGradXOp{base: newBase("denseGradX", op.xshape...), fwd: op}
	gx.out = gx.dense()
	gw := &denseGradWOp{base: newBase("denseGradW", op.in, op.outs), fwd: op}
	gw.out = gw.dense()
	gw.sums = newPartSums(op.n, op.in*op.outs, op.team)
	dx, err := G.ApplyOp(gx, grad, inputs[1])
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(gw, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(newColSumOp(op.n, 1, op.outs, op.team), grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw, db}, nil
}

// denseGradXOp gives dx = dy · W^T.
type denseGradXOp struct {
	base
	fwd *denseOp
	out *tensor.Dense
}

func (op *denseGradXOp) Arity() int    { return 2 }
func (op *denseGradXOp) Type() hm.Type { return fn(tt(2), tt(2), tt(len(op.shape))) }

func (op *denseGradXOp) Do(inputs ...G.Value) (G.Value, error) {
	f := op.fwd
	in, err := args(op, inputs, f.n*f.outs, f.in*f.outs)
	if err != nil {
		return nil, err
	}
	dy, w := in[0], in[1]
	dx := op.out.Data().([]float32)
	f.team.Parallel(f.n, func(_, lo, hi int) {
		kernels.Sgemm(false, true, hi-lo, f.in, f.outs, dy[lo*f.outs:], f.outs, w, f.outs, dx[lo*f.in:], f.in, false)
	})
	return op.out, nil
}

// denseGradWOp gives dW = x^T · dy, summed over the batch in fixed parts
// (see partSums).
type denseGradWOp struct {
	base
	fwd  *denseOp
	sums *partSums
	out  *tensor.Dense
}

func (op *denseGradWOp) Arity() int    { return 2 }
func (op *denseGradWOp) Type() hm.Type { return fn(tt(len(op.fwd.xshape)), tt(2), tt(2)) }

func (op *denseGradWOp) Do(inputs ...G.Value) (G.Value, error) {
	f := op.fwd
	in, err := args(op, inputs, f.n*f.in, f.n*f.outs)
	if err != nil {
		return nil, err
	}
	x, dy := in[0], in[1]
	op.sums.sum(op.out.Data().([]float32), func(_ int, dst []float32, lo, hi int) {
		kernels.Sgemm(true, false, f.in, f.outs, hi-lo, x[lo*f.in:], f.in, dy[lo*f.outs:], f.outs, dst, f.outs, false)
	})
	return op.out, nil
}
