package model

import (
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/mnistserve/app/internal/kernels"
)

// poolOp is a 2x2, stride-2 max-pool over NHWC images, whose input must
// be a ReLU's output (see poolGradOp). It records no
// argmax: inference does not need one, and the gradient finds each
// window's winner again from the input and output.
type poolOp struct {
	base
	n, h, w, c int
	team       *kernels.Team
	out        *tensor.Dense
}

func newPoolOp(n, h, w, c int, team *kernels.Team) *poolOp {
	op := &poolOp{base: newBase("maxpool2", n, h/2, w/2, c), n: n, h: h, w: w, c: c, team: team}
	op.out = op.dense()
	return op
}

func (op *poolOp) Arity() int         { return 1 }
func (op *poolOp) Type() hm.Type      { return fn(tt(4), tt(4)) }
func (op *poolOp) DiffWRT(int) []bool { return []bool{true} }

func (op *poolOp) Do(inputs ...G.Value) (G.Value, error) {
	in := op.h * op.w * op.c
	args, err := args(op, inputs, op.n*in)
	if err != nil {
		return nil, err
	}
	x := args[0]
	y := op.out.Data().([]float32)
	per := (op.h / 2) * (op.w / 2) * op.c
	op.team.Parallel(op.n, func(_, lo, hi int) {
		kernels.MaxPool2(hi-lo, op.h, op.w, op.c, x[lo*in:hi*in], y[lo*per:hi*per])
	})
	return op.out, nil
}

func (op *poolOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(newPoolGradOp(op), inputs[0], output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

// poolGradOp sends each pooled gradient back to the input that won, and
// through the ReLU whose output the pool's input is (every pool here
// follows a convolution's ReLU); its inputs are the pool's input, its
// output and the output's gradient.
type poolGradOp struct {
	base
	fwd *poolOp
	out *tensor.Dense
}

func newPoolGradOp(fwd *poolOp) *poolGradOp {
	op := &poolGradOp{base: newBase("maxpool2Grad", fwd.n, fwd.h, fwd.w, fwd.c), fwd: fwd}
	op.out = op.dense()
	return op
}

func (op *poolGradOp) Arity() int    { return 3 }
func (op *poolGradOp) Type() hm.Type { return fn(tt(4), tt(4), tt(4), tt(4)) }

func (op *poolGradOp) Do(inputs ...G.Value) (G.Value, error) {
	f := op.fwd
	per := (f.h / 2) * (f.w / 2) * f.c
	in := f.h * f.w * f.c
	args, err := args(op, inputs, f.n*in, f.n*per, f.n*per)
	if err != nil {
		return nil, err
	}
	x, y, dy := args[0], args[1], args[2]
	dx := op.out.Data().([]float32)
	f.team.Parallel(f.n, func(_, lo, hi int) {
		kernels.MaxPool2ReLUGrad(hi-lo, f.h, f.w, f.c, x[lo*in:hi*in], y[lo*per:hi*per], dy[lo*per:hi*per], dx[lo*in:hi*in])
	})
	return op.out, nil
}
