package onnx

import (
	"strconv"
	"testing"

	pb "github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"

	"github.com/mnistserve/app/model"
)

func TestMarshalDescribesTheNetwork(t *testing.T) {
	w := model.NewWeights(1)
	data, err := Marshal(w, model.Meta{Version: "v1", WeightsSHA256: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	var m pb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		t.Fatalf("the file does not parse as an ONNX ModelProto: %v", err)
	}
	if m.IrVersion != IRVersion || len(m.OpsetImport) != 1 || m.OpsetImport[0].Version != Opset {
		t.Errorf("IR %d, opsets %v: want IR %d, opset %d", m.IrVersion, m.OpsetImport, IRVersion, Opset)
	}
	g := m.Graph
	var ops []string
	for _, n := range g.Node {
		ops = append(ops, n.OpType)
	}
	want := []string{"Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Softmax"}
	if len(ops) != len(want) {
		t.Fatalf("ops %v, want %v", ops, want)
	}
	for i := range want {
		if ops[i] != want[i] {
			t.Fatalf("ops %v, want %v", ops, want)
		}
	}
	shape := func(v *pb.ValueInfoProto) []string {
		var s []string
		for _, d := range v.GetType().GetTensorType().GetShape().GetDim() {
			if p := d.GetDimParam(); p != "" {
				s = append(s, p)
			} else {
				s = append(s, strconv.FormatInt(d.GetDimValue(), 10))
			}
		}
		return s
	}
	if in := g.Input; len(in) != 1 || in[0].Name != "image" || len(shape(in[0])) != 4 || shape(in[0])[0] != "N" || shape(in[0])[2] != "28" {
		t.Errorf("input %v, want image [N,1,28,28]", in)
	}
	if out := g.Output; len(out) != 1 || out[0].Name != "probabilities" || len(shape(out[0])) != 2 || shape(out[0])[1] != "10" {
		t.Errorf("output %v, want probabilities [N,10]", out)
	}
	var params int
	for _, init := range g.Initializer {
		params += len(init.FloatData)
	}
	if params != model.Parameters {
		t.Errorf("the initializers hold %d values, the network has %d", params, model.Parameters)
	}
	props := map[string]string{}
	for _, p := range m.MetadataProps {
		props[p.Key] = p.Value
	}
	if props["version"] != "v1" || props["weights_sha256"] != "abc" {
		t.Errorf("metadata %v lacks the model's version and checksum", props)
	}
}

func TestConvKernelIsReorderedToONNXLayout(t *testing.T) {
	// 2x2 kernel, 2 input channels, 3 outputs: the value for (kh, kw, cin,
	// cout) encodes its indices, and must land at [cout][cin][kh][kw].
	const kh, kw, cin, cout = 2, 2, 2, 3
	w := make([]float32, kh*kw*cin*cout)
	for i := 0; i < kh; i++ {
		for j := 0; j < kw; j++ {
			for c := 0; c < cin; c++ {
				for o := 0; o < cout; o++ {
					w[((i*kw+j)*cin+c)*cout+o] = float32(1000*i + 100*j + 10*c + o)
				}
			}
		}
	}
	got := convKernel(w, kh, kw, cin, cout)
	for o := 0; o < cout; o++ {
		for c := 0; c < cin; c++ {
			for i := 0; i < kh; i++ {
				for j := 0; j < kw; j++ {
					if v, want := got[((o*cin+c)*kh+i)*kw+j], float32(1000*i+100*j+10*c+o); v != want {
						t.Fatalf("[%d][%d][%d][%d] = %v, want %v", o, c, i, j, v, want)
					}
				}
			}
		}
	}
}
