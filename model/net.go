// Package model is the convnet of the Keras "mnist_convnet" example, built
// with Gorgonia: its weights, the training and inference graphs, a
// goroutine-safe predictor and the model files on disk.
package model

import (
	"math"
	"math/rand/v2"

	"github.com/mnistserve/app/internal/kernels"
	"github.com/mnistserve/app/mnist"
)

// Architecture names the network in the metadata of saved models.
const Architecture = "mnist_convnet: conv3x3x32+relu, maxpool2, conv3x3x64+relu, maxpool2, flatten(1600), dropout(0.5), dense10+softmax"

// Pixels is the number of bytes of one input image, Classes the number of
// digits the network tells apart: MNIST's, declared in package mnist.
const (
	Pixels  = mnist.Pixels
	Classes = mnist.Classes
)

// Conv1 and Conv2 are the shapes of the two convolutions, NHWC; exporters
// read them to lay the kernels out.
var (
	Conv1 = kernels.ConvShape{H: mnist.Side, W: mnist.Side, Cin: 1, KH: 3, KW: 3, Cout: 32}
	Conv2 = kernels.ConvShape{H: 13, W: 13, Cin: 32, KH: 3, KW: 3, Cout: 64}
)

// conv1Used and conv2Used are the parts of the two convolutions that reach
// the output, the shapes training and inference compute. The second pool
// takes 2x2 windows of conv2's 11 x 11 output and drops its last row and
// column, so only conv2's top-left 10 x 10 outputs count; they read only
// the top-left 12 x 12 of the first pool's 13 x 13 output, which comes from
// conv1's top-left 24 x 24 outputs, which read the image's top-left
// 26 x 26. Computing those parts alone gives the same network, loss and
// gradients (the dropped outputs' gradients are zero) with about a sixth
// fewer flops.
var (
	conv2Used = kernels.ConvShape{H: 2*(Conv2.OutH()/2) + Conv2.KH - 1, W: 2*(Conv2.OutW()/2) + Conv2.KW - 1, Cin: Conv2.Cin, KH: Conv2.KH, KW: Conv2.KW, Cout: Conv2.Cout}
	conv1Used = kernels.ConvShape{H: 2*conv2Used.H + Conv1.KH - 1, W: 2*conv2Used.W + Conv1.KW - 1, Cin: Conv1.Cin, KH: Conv1.KH, KW: Conv1.KW, Cout: Conv1.Cout, ImgH: Conv1.H, ImgW: Conv1.W}
)

const (
	flat        = 5 * 5 * 64 // after the second pool
	dropoutRate = 0.5
)

// Weights holds the parameters of the network. Convolution kernels are
// K x Cout matrices with rows over (kh, kw, cin); the dense layer is
// 1600 x 10 over the (h, w, c) flattening of the last pool.
type Weights struct {
	Conv1W, Conv1B []float32
	Conv2W, Conv2B []float32
	DenseW, DenseB []float32
}

// Parameters is the number of trainable values: 34,826.
const Parameters = 9*32 + 32 + 288*64 + 64 + flat*Classes + Classes

// NewWeights returns weights initialised as Keras does (Glorot-uniform
// kernels, zero biases) from a generator seeded with seed.
func NewWeights(seed uint64) *Weights {
	rng := rand.New(rand.NewPCG(seed, 0x6d6e697374))
	glorot := func(fanIn, fanOut, n int) []float32 {
		limit := math.Sqrt(6 / float64(fanIn+fanOut))
		w := make([]float32, n)
		for i := range w {
			w[i] = float32((rng.Float64()*2 - 1) * limit)
		}
		return w
	}
	return &Weights{
		Conv1W: glorot(9*1, 9*32, 9*32),
		Conv1B: make([]float32, 32),
		Conv2W: glorot(9*32, 9*64, 288*64),
		Conv2B: make([]float32, 64),
		DenseW: glorot(flat, Classes, flat*Classes),
		DenseB: make([]float32, Classes),
	}
}

// tensors lists the parameters in a fixed order with their shapes: the
// order of the weights file and of the graph's learnables.
func (w *Weights) tensors() []param {
	return []param{
		{"conv1/kernel", w.Conv1W, []int{9, 32}},
		{"conv1/bias", w.Conv1B, []int{32}},
		{"conv2/kernel", w.Conv2W, []int{288, 64}},
		{"conv2/bias", w.Conv2B, []int{64}},
		{"dense/kernel", w.DenseW, []int{flat, Classes}},
		{"dense/bias", w.DenseB, []int{Classes}},
	}
}

// param is one named parameter tensor.
type param struct {
	name  string
	data  []float32
	shape []int
}
