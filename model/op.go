package model

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The network's heavy nodes are custom Gorgonia ops (this file and op_*.go):
// Gorgonia keeps the graph, the symbolic differentiation and the tape
// machine, while the ops run the kernels of internal/kernels on buffers
// they own. Owning the output buffers is what makes a training step
// allocation-free: the tape machine drops its registers on every Reset, so
// Gorgonia's own preallocation never gets reused.

// opIDs gives each op instance a distinct identity, so that Gorgonia never
// merges two nodes because their ops hash alike.
var opIDs atomic.Int64

// base carries what every op here shares: a name, a unique id and the
// output shape fixed when the graph is built.
type base struct {
	name  string
	id    int64
	shape tensor.Shape
}

func newBase(name string, shape ...int) base {
	return base{name: name, id: opIDs.Add(1), shape: tensor.Shape(shape)}
}

func (b *base) ReturnsPtr() bool      { return false }
func (b *base) CallsExtern() bool     { return false }
func (b *base) OverwritesInput() int  { return -1 }
func (b *base) String() string        { return fmt.Sprintf("%s#%d%v", b.name, b.id, b.shape) }
func (b *base) WriteHash(h hash.Hash) { fmt.Fprint(h, b.String()) }
func (b *base) Hashcode() uint32 {
	h := fnv.New32a()
	b.WriteHash(h)
	return h.Sum32()
}

func (b *base) InferShape(...G.DimSizer) (tensor.Shape, error) { return b.shape.Clone(), nil }

// dense returns a float32 tensor of the op's output shape over a new buffer.
func (b *base) dense() *tensor.Dense {
	return tensor.New(tensor.WithShape(b.shape.Clone()...), tensor.WithBacking(make([]float32, b.shape.TotalSize())))
}

// tt is the Gorgonia type of a float32 tensor of d dimensions.
func tt(d int) hm.Type { return G.TensorType{Dims: d, Of: tensor.Float32} }

// fn is the type of an op taking ins and giving out.
func fn(types ...hm.Type) hm.Type { return hm.NewFnType(types...) }

// args checks that op got one input per size, each float32 data of that
// many values, and returns the data (in an array: no allocation per step).
func args(op G.Op, inputs []G.Value, sizes ...int) (in [4][]float32, err error) {
	if len(inputs) != len(sizes) || len(sizes) > len(in) {
		return in, fmt.Errorf("%v: %d inputs, want %d", op, len(inputs), len(sizes))
	}
	for i, v := range inputs {
		d, ok := v.Data().([]float32)
		if !ok {
			return in, fmt.Errorf("%v: input %d holds %T, want float32", op, i, v.Data())
		}
		if len(d) != sizes[i] {
			return in, fmt.Errorf("%v: input %d has %d values, want %d", op, i, len(d), sizes[i])
		}
		in[i] = d
	}
	return in, nil
}

// scalar reads a scalar Gorgonia value (the seed gradient of the loss).
func scalar(v G.Value) (float32, error) {
	switch s := v.(type) {
	case *G.F32:
		return float32(*s), nil
	case *G.F64:
		return float32(*s), nil
	case tensor.Tensor:
		if d, ok := s.Data().([]float32); ok && len(d) == 1 {
			return d[0], nil
		}
		if d, ok := s.Data().(float32); ok {
			return d, nil
		}
	}
	return 0, fmt.Errorf("want a float32 scalar, got %T", v)
}

// floats returns the float32 data of a Gorgonia value, checking its size.
func floats(v G.Value, want int, what string) ([]float32, error) {
	d, ok := v.Data().([]float32)
	if !ok {
		return nil, fmt.Errorf("%s: want float32 data, got %T", what, v.Data())
	}
	if len(d) != want {
		return nil, fmt.Errorf("%s: %d values, want %d", what, len(d), want)
	}
	return d, nil
}
