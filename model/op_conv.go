package model

import (
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/mnistserve/app/internal/kernels"
)

// convOp is a valid, stride-1 convolution over NHWC images with bias and
// ReLU fused: y = relu(im2col(x)·W + b). W is a K x Cout matrix whose rows
// run over (kh, kw, cin). It takes a group of images at a time, each
// worker with its own patch buffer, which the weight gradient uses too:
// the patches are made again there rather than kept for the whole batch,
// since a small buffer's patches are read from cache and the whole
// batch's (15 MB for the second layer) from memory.
type convOp struct {
	base
	s         kernels.ConvShape
	n         int
	team      *kernels.Team
	inputGrad bool // whether x needs a gradient (not for the first layer)
	group     int
	cols      [][]float32 // per worker, a group's patches
	out       *tensor.Dense
}

func newConvOp(s kernels.ConvShape, n int, team *kernels.Team, inputGrad bool) *convOp {
	op := &convOp{base: newBase("conv", n, s.OutH(), s.OutW(), s.Cout), s: s, n: n, team: team, inputGrad: inputGrad}
	op.group = convGroup(s, n)
	op.cols = make([][]float32, team.Workers())
	for i := range op.cols {
		op.cols[i] = make([]float32, op.group*s.OutH()*s.OutW()*s.K())
	}
	op.out = op.dense()
	return op
}

func (op *convOp) Arity() int         { return 3 }
func (op *convOp) Type() hm.Type      { return fn(tt(4), tt(2), tt(1), tt(4)) }
func (op *convOp) DiffWRT(int) []bool { return []bool{op.inputGrad, true, true} }

func (op *convOp) Do(inputs ...G.Value) (G.Value, error) {
	s := op.s
	in, err := args(op, inputs, op.n*s.InSize(), s.K()*s.Cout, s.Cout)
	if err != nil {
		return nil, err
	}
	x, w, b := in[0], in[1], in[2]
	y := op.out.Data().([]float32)
	pix, k := s.OutH()*s.OutW(), s.K()
	op.team.ParallelGrain(op.n, op.group, func(worker, lo, hi int) {
		// A few images at a time, so that the patches are still in
		// cache when the multiply reads them.
		for g := lo; g < hi; g += op.group {
			n := min(op.group, hi-g)
			rows := n * pix
			cols := op.cols[worker][:rows*k]
			out := y[g*pix*s.Cout : (g+n)*pix*s.Cout]
			kernels.Im2col(s, n, x[g*s.InSize():], cols)
			kernels.SgemmBias(rows, s.Cout, k, cols, k, w, s.Cout, out, s.Cout, b, true)
		}
	})
	return op.out, nil
}

// convGroup is how many of a batch of n images a convolution takes at a
// time: the fewest whose output rows fill whole tiles of the multiply (3
// for the second layer's 100 rows an image), as many more as keep their
// patches and outputs within about 256 KiB.
func convGroup(s kernels.ConvShape, n int) int {
	pix := s.OutH() * s.OutW()
	g := 1
	for g*pix%kernels.TileRows != 0 && g < n {
		g++
	}
	per := g * pix * (s.K() + s.Cout) * 4
	return g * max(1, (256<<10)/per)
}

func (op *convOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	// grad is already through the ReLU: the max-pool that follows every
	// convolution here gives its gradient that way (MaxPool2ReLUGrad),
	// which saves a pass over the largest activations.
	dz := grad
	dw, err := G.ApplyOp(newConvGradWOp(op), inputs[0], dz)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(newColSumOp(op.n, op.s.OutH()*op.s.OutW(), op.s.Cout, op.team), dz)
	if err != nil {
		return nil, err
	}
	var dx *G.Node
	if op.inputGrad {
		if dx, err = G.ApplyOp(newConvGradXOp(op), dz, inputs[1]); err != nil {
			return nil, err
		}
	}
	return G.Nodes{dx, dw, db}, nil
}

// convGradWOp gives dW = im2col(x)^T · dz, summed over the batch in fixed
// parts (see partSums), each part a group of images at a time in the
// patch buffers of its convOp.
type convGradWOp struct {
	base
	fwd  *convOp
	sums *partSums
	out  *tensor.Dense
}

func newConvGradWOp(fwd *convOp) *convGradWOp {
	op := &convGradWOp{base: newBase("convGradW", fwd.s.K(), fwd.s.Cout), fwd: fwd}
	op.out = op.dense()
	op.sums = newPartSums(fwd.n, fwd.s.K()*fwd.s.Cout, fwd.team)
	return op
}

func (op *convGradWOp) Arity() int    { return 2 }
func (op *convGradWOp) Type() hm.Type { return fn(tt(4), tt(4), tt(2)) }

func (op *convGradWOp) Do(inputs ...G.Value) (G.Value, error) {
	f := op.fwd
	s := f.s
	pix, k := s.OutH()*s.OutW(), s.K()
	in, err := args(op, inputs, f.n*s.InSize(), f.n*pix*s.Cout)
	if err != nil {
		return nil, err
	}
	x, dz := in[0], in[1]
	op.sums.sum(op.out.Data().([]float32), func(worker int, dst []float32, lo, hi int) {
		if lo == hi {
			clear(dst)
		}
		for g := lo; g < hi; g += f.group {
			n := min(f.group, hi-g)
			cols := f.cols[worker][:n*pix*k]
			kernels.Im2col(s, n, x[g*s.InSize():], cols)
			kernels.Sgemm(true, false, k, s.Cout, n*pix, cols, k, dz[g*pix*s.Cout:], s.Cout, dst, s.Cout, g > lo)
		}
	})
	return op.out, nil
}

// convGradXOp gives dx = col2im(dz · W^T), the gradient of the layer input.
type convGradXOp struct {
	base
	fwd   *convOp
	wT    []float32   // W^T, Cout x K, so the multiply reads it in place
	dcols [][]float32 // per worker, a group's patch gradients
	out   *tensor.Dense
}

func newConvGradXOp(fwd *convOp) *convGradXOp {
	s := fwd.s
	op := &convGradXOp{base: newBase("convGradX", fwd.n, s.H, s.W, s.Cin), fwd: fwd}
	op.wT = make([]float32, s.K()*s.Cout)
	op.dcols = make([][]float32, fwd.team.Workers())
	for i := range op.dcols {
		op.dcols[i] = make([]float32, fwd.group*s.OutH()*s.OutW()*s.K())
	}
	op.out = op.dense()
	return op
}

func (op *convGradXOp) Arity() int    { return 2 }
func (op *convGradXOp) Type() hm.Type { return fn(tt(4), tt(2), tt(4)) }

func (op *convGradXOp) Do(inputs ...G.Value) (G.Value, error) {
	f := op.fwd
	s := f.s
	pix, k := s.OutH()*s.OutW(), s.K()
	in, err := args(op, inputs, f.n*pix*s.Cout, k*s.Cout)
	if err != nil {
		return nil, err
	}
	dz, w := in[0], in[1]
	for i := 0; i < k; i++ {
		for c, v := range w[i*s.Cout : i*s.Cout+s.Cout] {
			op.wT[c*k+i] = v
		}
	}
	dx := op.out.Data().([]float32)
	f.team.ParallelGrain(f.n, f.group, func(worker, lo, hi int) {
		// A group at a time, as the forward pass: the patch gradients
		// are added back while still in cache.
		dcols := op.dcols[worker]
		for g := lo; g < hi; g += f.group {
			n := min(f.group, hi-g)
			kernels.Sgemm(false, false, n*pix, k, s.Cout, dz[g*pix*s.Cout:], s.Cout, op.wT, k, dcols, k, false)
			part := dx[g*s.InSize() : (g+n)*s.InSize()]
			clear(part)
			kernels.Col2im(s, n, dcols, part)
		}
	})
	return op.out, nil
}

// colSumOp sums the rows of the gradient of n images of rows x cols
// each: the gradient of a bias, summed over the batch in fixed parts.
type colSumOp struct {
	base
	n, rows int
	sums    *partSums
	out     *tensor.Dense
}

func newColSumOp(n, rows, cols int, team *kernels.Team) *colSumOp {
	op := &colSumOp{base: newBase("colSum", cols), n: n, rows: rows}
	op.out = op.dense()
	op.sums = newPartSums(n, cols, team)
	return op
}

func (op *colSumOp) Arity() int    { return 1 }
func (op *colSumOp) Type() hm.Type { return fn(hm.TypeVariable('a'), tt(1)) }

func (op *colSumOp) Do(inputs ...G.Value) (G.Value, error) {
	c := op.shape[0]
	per := op.rows * c
	in, err := args(op, inputs, op.n*per)
	if err != nil {
		return nil, err
	}
	op.sums.sum(op.out.Data().([]float32), func(_ int, dst []float32, lo, hi int) {
		clear(dst)
		kernels.AddColumnSums(in[0][lo*per:hi*per], (hi-lo)*op.rows, dst)
	})
	return op.out, nil
}
