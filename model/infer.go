package model

import (
	"github.com/mnistserve/app/internal/kernels"
)

// Inference runs on the kernels directly rather than through a Gorgonia
// graph: a tape machine costs more per call than the whole network at
// batch 1, and a plain loop over preallocated buffers allocates nothing.
// Each image goes through the whole network before the next, so its
// activations (about 170 kB) stay in the core's cache.

// chunk is the most images one pass over a machine's input buffer takes;
// larger calls are cut into chunks.
const chunk = 64

// Rows of the two convolutions' GEMMs (over their used parts: see
// conv1Used). The second is computed over every column of its input (see
// convRows), so its output rows are the input's width apart and the last
// KW-1 columns of each are never read. Both are rounded up to whole
// 12-row tiles (tileRows): the extra rows read the zeros past the end of
// the input buffers and are never read themselves, which spares the GEMM
// its edge path.
const tileRows = 12

var (
	conv1Rows = roundUp(conv1Used.OutH()*conv1Used.OutW(), tileRows)
	conv2Rows = roundUp((conv2Used.OutH()-1)*conv2Used.W+conv2Used.OutW(), tileRows)
	pool1Side = conv1Used.OutH() / 2 // 12
	pool2Side = conv2Used.OutH() / 2 // 5
	// pool1Pad is how far the second convolution's last tile reads past
	// the pooled image.
	pool1Pad = ((conv2Rows-1)+(conv2Used.KH-1)*conv2Used.W)*conv2Used.Cin + conv2Used.KW*conv2Used.Cin - pool1Side*pool1Side*conv2Used.Cin
)

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// inferWeights is a copy of the weights laid out for inference.
type inferWeights struct {
	conv1W, conv1B []float32
	conv2W, conv2B []float32
	denseT         []float32 // Classes x flat: row j is class j's column of DenseW
	denseB         []float32
}

func newInferWeights(w *Weights) *inferWeights {
	c := func(s []float32) []float32 { return append([]float32(nil), s...) }
	iw := &inferWeights{conv1W: c(w.Conv1W), conv1B: c(w.Conv1B), conv2W: c(w.Conv2W), conv2B: c(w.Conv2B), denseB: c(w.DenseB)}
	iw.denseT = make([]float32, flat*Classes)
	for p := 0; p < flat; p++ {
		for j := 0; j < Classes; j++ {
			iw.denseT[j*flat+p] = w.DenseW[p*Classes+j]
		}
	}
	return iw
}

// scratch holds one worker's activations of one image.
type scratch struct {
	cols1 []float32 // im2col of the input: 24*24 x 9
	y1    []float32 // conv1: 24*24 x 32
	p1    []float32 // pool1: 12*12 x 32
	y2    []float32 // conv2 over full rows: conv2Rows x 64
	p2    []float32 // pool2: 5*5 x 64, the dense layer's input
	logit [Classes]float32
}

func newScratch() *scratch {
	return &scratch{
		cols1: make([]float32, conv1Rows*conv1Used.K()),
		y1:    make([]float32, conv1Rows*conv1Used.Cout),
		p1:    make([]float32, pool1Side*pool1Side*conv1Used.Cout+max(pool1Pad, 0)),
		y2:    make([]float32, conv2Rows*conv2Used.Cout),
		p2:    make([]float32, flat),
	}
}

// image runs the network on the 784 scaled pixels x and writes the 10
// probabilities to probs.
func (iw *inferWeights) image(s *scratch, x, probs []float32) {
	c1, c2 := conv1Used, conv2Used
	kernels.Im2col(c1, 1, x, s.cols1)
	kernels.SgemmBias(conv1Rows, c1.Cout, c1.K(), s.cols1, c1.K(), iw.conv1W, c1.Cout, s.y1, c1.Cout, iw.conv1B, true)
	kernels.MaxPool2(1, c1.OutH(), c1.OutW(), c1.Cout, s.y1, s.p1)
	convRows(s.p1, iw.conv2W, iw.conv2B, s.y2)
	kernels.MaxPool2Rows(pool2Side, pool2Side, c2.Cout, c2.W, s.y2, s.p2)
	for j := range s.logit {
		s.logit[j] = iw.denseB[j] + kernels.Dot(s.p2, iw.denseT[j*flat:(j+1)*flat])
	}
	softmax(s.logit[:], probs, Classes)
}

// convRows is the second convolution (and its bias and ReLU) without an
// im2col matrix. Output pixel q = y*W + x (x running over all W input
// columns, the last KW-1 of them wasted) takes, for kernel row kh, the
// KW*Cin values that start at input pixel q + kh*W: consecutive pixels'
// patches are Cin floats apart in the input, so for each kh the patches
// form a matrix with leading dimension Cin whose rows overlap, which the
// GEMM reads in place. Three GEMMs of depth KW*Cin add up the kernel rows.
func convRows(x, w, bias, y []float32) {
	c := conv2Used
	run := c.KW * c.Cin
	for kh := 0; kh < c.KH; kh++ {
		a := x[kh*c.W*c.Cin:]
		b := w[kh*run*c.Cout:]
		if kh == 0 { // the bias comes with the first kernel row's product
			kernels.SgemmBias(conv2Rows, c.Cout, run, a, c.Cin, b, c.Cout, y, c.Cout, bias, false)
			continue
		}
		if kh < c.KH-1 {
			kernels.Sgemm(false, false, conv2Rows, c.Cout, run, a, c.Cin, b, c.Cout, y, c.Cout, true)
			continue
		}
		kernels.SgemmReLU(false, false, conv2Rows, c.Cout, run, a, c.Cin, b, c.Cout, y, c.Cout)
	}
}

// machine is one caller's input buffer, probabilities and the scratch of
// each worker.
type machine struct {
	x       []float32 // chunk x 784
	probs   []float32 // chunk x 10
	scratch []*scratch
}

func newMachine(workers int) *machine {
	m := &machine{x: make([]float32, chunk*Pixels), probs: make([]float32, chunk*Classes)}
	for range workers {
		m.scratch = append(m.scratch, newScratch())
	}
	return m
}

// run computes the probabilities of the first n images of m.x with up to
// len(m.scratch) workers.
func (m *machine) run(iw *inferWeights, n int) {
	workers := 1
	if n >= 16 { // small batches run on one core: concurrent requests fill the others
		workers = len(m.scratch)
	}
	if workers <= 1 {
		// Inline, not through kernels.Parallel: its closure would be an
		// allocation a call.
		for i := 0; i < n; i++ {
			iw.image(m.scratch[0], m.x[i*Pixels:(i+1)*Pixels], m.probs[i*Classes:(i+1)*Classes])
		}
		return
	}
	kernels.Parallel(n, workers, func(w, lo, hi int) {
		for i := lo; i < hi; i++ {
			iw.image(m.scratch[w], m.x[i*Pixels:(i+1)*Pixels], m.probs[i*Classes:(i+1)*Classes])
		}
	})
}
