package model

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/mnistserve/app/internal/kernels"
	"github.com/mnistserve/app/mnist"
)

// network is the training graph of the convnet (Gorgonia) for a fixed
// batch size, with its input nodes, its learnable nodes and the ops a
// caller reaches into (the dropout mask, the loss's probabilities, the
// loss). Inference does not use a graph: see infer.go.
type network struct {
	g       *G.ExprGraph
	n       int
	x       *G.Node // n x 28 x 28 x 1, scaled to [0,1]
	xVal    *tensor.Dense
	params  G.Nodes
	out     *G.Node // the scalar loss
	labels  *G.Node
	lVal    *tensor.Dense
	dropout *dropoutOp
	xent    *xentOp
}

// buildNetwork builds the training graph for batch size n over w's slices
// (shared, not copied: the solver updates w in place), ending in the loss,
// with its gradients. Its layers share each step's work through team.
func buildNetwork(w *Weights, n int, team *kernels.Team) (*network, error) {
	g := G.NewGraph()
	net := &network{g: g, n: n}
	net.xVal = tensor.New(tensor.WithShape(n, mnist.Side, mnist.Side, 1), tensor.WithBacking(make([]float32, n*Pixels)))
	net.x = G.NewTensor(g, tensor.Float32, 4, G.WithShape(n, mnist.Side, mnist.Side, 1), G.WithName("x"), G.WithValue(net.xVal))
	for _, p := range w.tensors() {
		v := tensor.New(tensor.WithShape(p.shape...), tensor.WithBacking(p.data))
		net.params = append(net.params, G.NewTensor(g, tensor.Float32, len(p.shape), G.WithShape(p.shape...), G.WithName(p.name), G.WithValue(v)))
	}
	p := net.params
	apply := func(op G.Op, in ...*G.Node) (*G.Node, error) {
		out, err := G.ApplyOp(op, in...)
		if err != nil {
			return nil, fmt.Errorf("build %v: %w", op, err)
		}
		return out, nil
	}
	c1, c2 := conv1Used, conv2Used
	h, err := apply(newConvOp(c1, n, team, false), net.x, p[0], p[1])
	if err != nil {
		return nil, err
	}
	if h, err = apply(newPoolOp(n, c1.OutH(), c1.OutW(), c1.Cout, team), h); err != nil {
		return nil, err
	}
	if h, err = apply(newConvOp(c2, n, team, true), h, p[2], p[3]); err != nil {
		return nil, err
	}
	if h, err = apply(newPoolOp(n, c2.OutH(), c2.OutW(), c2.Cout, team), h); err != nil {
		return nil, err
	}
	net.dropout = newDropoutOp(h.Shape())
	if h, err = apply(net.dropout, h); err != nil {
		return nil, err
	}
	logits, err := apply(newDenseOp(h.Shape(), Classes, team), h, p[4], p[5])
	if err != nil {
		return nil, err
	}
	net.lVal = tensor.New(tensor.WithShape(n), tensor.WithBacking(make([]float32, n)))
	net.labels = G.NewTensor(g, tensor.Float32, 1, G.WithShape(n), G.WithName("labels"), G.WithValue(net.lVal))
	net.xent = newXentOp(n, Classes)
	if net.out, err = apply(net.xent, logits, net.labels); err != nil {
		return nil, err
	}
	if _, err = G.Grad(net.out, net.params...); err != nil {
		return nil, fmt.Errorf("differentiate the loss: %w", err)
	}
	return net, nil
}
