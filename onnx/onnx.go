// Package onnx writes a trained model as an ONNX graph, so that it runs in
// any ONNX runtime: input "image", float32 [N,1,28,28] with pixels scaled
// to 0..1 as in training; output "probabilities", float32 [N,10], the
// softmax included. The protobuf messages are ONNX's own definitions as
// generated Go code (github.com/advancedclimatesystems/gonnx/onnx, built
// on google.golang.org/protobuf).
package onnx

import (
	"fmt"

	pb "github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"

	"github.com/mnistserve/app/mnist"
	"github.com/mnistserve/app/model"
)

// Opset is the ONNX operator set the graph uses; IRVersion the file
// format version that goes with it.
const (
	Opset     = 13
	IRVersion = int64(pb.Version_IR_VERSION_2020_5_8) // IR 7, the one of opset 13
)

// The graph's input and output names, and the name of the batch dimension.
const (
	InputName  = "image"
	OutputName = "probabilities"
	batchDim   = "N"
)

// Marshal returns the ONNX model file of weights w, described by meta.
func Marshal(w *model.Weights, meta model.Meta) ([]byte, error) {
	g, err := graph(w)
	if err != nil {
		return nil, err
	}
	m := &pb.ModelProto{
		IrVersion:       IRVersion,
		OpsetImport:     []*pb.OperatorSetIdProto{{Domain: "", Version: Opset}},
		ProducerName:    "mnistserve app",
		ProducerVersion: meta.Version,
		Domain:          "mnistserve",
		DocString:       model.Architecture,
		Graph:           g,
		MetadataProps: []*pb.StringStringEntryProto{
			{Key: "version", Value: meta.Version},
			{Key: "weights_sha256", Value: meta.WeightsSHA256},
			{Key: "test_accuracy", Value: fmt.Sprint(meta.TestAccuracy)},
		},
	}
	return proto.Marshal(m)
}

// graph builds the network in ONNX's NCHW layout. The app computes in NHWC;
// with one input channel the input is the same either way, the convolution
// kernels are reordered from (kh, kw, cin) x cout to [cout, cin, kh, kw],
// and the dense kernel's rows from the (h, w, c) flattening to ONNX
// Flatten's (c, h, w).
func graph(w *model.Weights) (*pb.GraphProto, error) {
	c1, c2 := model.Conv1, model.Conv2
	pooledSide := c2.OutH() / 2 // 28 -conv-> 26 -pool-> 13 -conv-> 11 -pool-> 5
	flat := pooledSide * pooledSide * c2.Cout
	want := map[string][2]int{
		"conv1 kernel": {len(w.Conv1W), c1.K() * c1.Cout}, "conv1 bias": {len(w.Conv1B), c1.Cout},
		"conv2 kernel": {len(w.Conv2W), c2.K() * c2.Cout}, "conv2 bias": {len(w.Conv2B), c2.Cout},
		"dense kernel": {len(w.DenseW), flat * model.Classes}, "dense bias": {len(w.DenseB), model.Classes},
	}
	for name, n := range want {
		if n[0] != n[1] {
			return nil, fmt.Errorf("onnx: %s has %d values, want %d", name, n[0], n[1])
		}
	}
	dense := make([]float32, len(w.DenseW))
	for h := 0; h < pooledSide; h++ {
		for x := 0; x < pooledSide; x++ {
			for c := 0; c < c2.Cout; c++ {
				from := ((h*pooledSide+x)*c2.Cout + c) * model.Classes
				to := ((c*pooledSide+h)*pooledSide + x) * model.Classes
				copy(dense[to:to+model.Classes], w.DenseW[from:from+model.Classes])
			}
		}
	}
	inits := []*pb.TensorProto{
		tensor("conv1.weight", convKernel(w.Conv1W, c1.KH, c1.KW, c1.Cin, c1.Cout), c1.Cout, c1.Cin, c1.KH, c1.KW),
		tensor("conv1.bias", w.Conv1B, c1.Cout),
		tensor("conv2.weight", convKernel(w.Conv2W, c2.KH, c2.KW, c2.Cin, c2.Cout), c2.Cout, c2.Cin, c2.KH, c2.KW),
		tensor("conv2.bias", w.Conv2B, c2.Cout),
		tensor("dense.weight", dense, flat, model.Classes),
		tensor("dense.bias", w.DenseB, model.Classes),
	}
	pool := []*pb.AttributeProto{ints("kernel_shape", 2, 2), ints("strides", 2, 2)}
	nodes := []*pb.NodeProto{
		node("Conv", "conv1", []string{InputName, "conv1.weight", "conv1.bias"}, "conv1.out", ints("kernel_shape", int64(c1.KH), int64(c1.KW))),
		node("Relu", "relu1", []string{"conv1.out"}, "relu1.out"),
		node("MaxPool", "pool1", []string{"relu1.out"}, "pool1.out", pool...),
		node("Conv", "conv2", []string{"pool1.out", "conv2.weight", "conv2.bias"}, "conv2.out", ints("kernel_shape", int64(c2.KH), int64(c2.KW))),
		node("Relu", "relu2", []string{"conv2.out"}, "relu2.out"),
		node("MaxPool", "pool2", []string{"relu2.out"}, "pool2.out", pool...),
		node("Flatten", "flatten", []string{"pool2.out"}, "flat", &pb.AttributeProto{Name: "axis", Type: pb.AttributeProto_INT, I: 1}),
		node("Gemm", "dense", []string{"flat", "dense.weight", "dense.bias"}, "logits"),
		node("Softmax", "softmax", []string{"logits"}, OutputName, &pb.AttributeProto{Name: "axis", Type: pb.AttributeProto_INT, I: 1}),
	}
	return &pb.GraphProto{
		Name:        "mnist_convnet",
		Node:        nodes,
		Initializer: inits,
		Input:       []*pb.ValueInfoProto{valueInfo(InputName, "N images, 28x28 pixels scaled to 0..1, white digit on black", 1, mnist.Side, mnist.Side)},
		Output:      []*pb.ValueInfoProto{valueInfo(OutputName, "the probability of each digit 0..9", model.Classes)},
	}, nil
}

// convKernel reorders a K x Cout kernel with rows over (kh, kw, cin) into
// ONNX's [cout, cin, kh, kw].
func convKernel(w []float32, kh, kw, cin, cout int) []float32 {
	out := make([]float32, len(w))
	for i := 0; i < kh; i++ {
		for j := 0; j < kw; j++ {
			for c := 0; c < cin; c++ {
				for o := 0; o < cout; o++ {
					out[((o*cin+c)*kh+i)*kw+j] = w[((i*kw+j)*cin+c)*cout+o]
				}
			}
		}
	}
	return out
}

func tensor(name string, data []float32, dims ...int) *pb.TensorProto {
	t := &pb.TensorProto{Name: name, DataType: int32(pb.TensorProto_FLOAT), FloatData: append([]float32(nil), data...)}
	for _, d := range dims {
		t.Dims = append(t.Dims, int64(d))
	}
	return t
}

func node(op, name string, in []string, out string, attrs ...*pb.AttributeProto) *pb.NodeProto {
	return &pb.NodeProto{OpType: op, Name: name, Input: in, Output: []string{out}, Attribute: attrs}
}

func ints(name string, v ...int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: name, Type: pb.AttributeProto_INTS, Ints: v}
}

// valueInfo describes a float32 tensor of shape [N, dims...].
func valueInfo(name, doc string, dims ...int) *pb.ValueInfoProto {
	shape := &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dimension{{Value: &pb.TensorShapeProto_Dimension_DimParam{DimParam: batchDim}}}}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	return &pb.ValueInfoProto{
		Name:      name,
		DocString: doc,
		Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: &pb.TypeProto_Tensor{
			ElemType: int32(pb.TensorProto_FLOAT),
			Shape:    shape,
		}}},
	}
}
