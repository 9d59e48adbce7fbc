package oip

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/mnistserve/app/pipeline"
)

// Input is one input tensor as a transport read it. At most one of JSON,
// Raw, FP32 and Uint holds its data.
type Input struct {
	Name     string
	Datatype string
	Shape    []int64
	JSON     []byte    // REST: the "data" array as sent, flat or nested
	Pixels   []byte    // REST: JSON's values read already by Pixel, or nil
	Raw      []byte    // binary data (REST extension, gRPC raw_input_contents), little-endian
	FP32     []float32 // gRPC fp32_contents
	Uint     []uint32  // gRPC uint_contents, where UINT8 travels
	HasData  bool      // some data was sent, in any of the fields above
}

// Output is an output the client asked for (or all of them, when it asked
// for none), and whether it wants it as binary data.
type Output struct {
	Name   string
	Binary bool
}

// InferRequest is an inference request in the protocol's terms.
type InferRequest struct {
	ID      string
	Inputs  []Input
	Outputs []Output
	// BinaryAll asks for every output as binary data (the request
	// parameter binary_data_output).
	BinaryAll bool
}

// InferResponse is the answer: the stored results, and which outputs to
// send in which form.
type InferResponse struct {
	ModelName    string
	ModelVersion string
	ID           string
	Outputs      []Output
	Results      []pipeline.Result
}

// IDs is the response parameter naming the stored rows, comma-separated
// (parameter values are scalars in the protocol).
func (r *InferResponse) IDs() string {
	var b strings.Builder
	for i, res := range r.Results {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(res.ID, 10))
	}
	return b.String()
}

// Infer runs req on the model name at version ("" for the served one) as
// made by client, storing every image like a /predict image. It admits
// the request before decoding its images, so an overloaded server refuses
// at once (pipeline.ErrBusy).
func (s *Service) Infer(ctx context.Context, client *string, name, version string, req *InferRequest) (*InferResponse, error) {
	m, err := s.model(ctx, name, version)
	if err != nil {
		return nil, err
	}
	outputs, err := checkOutputs(req)
	if err != nil {
		return nil, err
	}
	ticket, err := s.Pipeline.Admit(ctx)
	if err != nil {
		return nil, err
	}
	defer ticket.Release()
	imgs, err := images(req.Inputs)
	if err != nil {
		return nil, err
	}
	res, err := s.Pipeline.Predict(ctx, pipeline.Request{Client: client, Images: imgs, Model: m})
	if err != nil {
		return nil, err
	}
	return &InferResponse{ModelName: ModelName, ModelVersion: res[0].ModelVersion, ID: req.ID, Outputs: outputs, Results: res}, nil
}

// checkOutputs returns the outputs to answer: those asked for, in the
// order asked, or both when none is.
func checkOutputs(req *InferRequest) ([]Output, error) {
	if len(req.Outputs) == 0 {
		return []Output{{Name: OutputProbs, Binary: req.BinaryAll}, {Name: OutputDigit, Binary: req.BinaryAll}}, nil
	}
	seen := map[string]bool{}
	out := make([]Output, 0, len(req.Outputs))
	for i, o := range req.Outputs {
		switch {
		case o.Name != OutputProbs && o.Name != OutputDigit:
			return nil, invalid("outputs[%d].name is %s, want %q or %q", i, Quote(o.Name), OutputProbs, OutputDigit)
		case seen[o.Name]:
			return nil, invalid("outputs[%d].name %s is asked for twice", i, Quote(o.Name))
		}
		seen[o.Name] = true
		out = append(out, Output{Name: o.Name, Binary: o.Binary || req.BinaryAll})
	}
	return out, nil
}

// images checks the one input tensor and decodes its images.
func images(inputs []Input) ([][]byte, error) {
	if len(inputs) != 1 {
		return nil, invalid("inputs has %d tensors, want 1 named %q", len(inputs), InputName)
	}
	in := &inputs[0]
	const at = "inputs[0]"
	if in.Name != InputName {
		return nil, invalid("%s.name is %s, want %q", at, Quote(in.Name), InputName)
	}
	if in.Datatype != "FP32" && in.Datatype != "UINT8" {
		return nil, invalid("%s.datatype is %s, want FP32 (0..1) or UINT8 (0..255)", at, Quote(in.Datatype))
	}
	n, err := imageCount(in.Shape)
	if err != nil {
		return nil, err
	}
	if !in.HasData {
		return nil, invalid("%s has no data: send data (JSON), binary data, or contents", at)
	}
	px := in.Pixels
	if len(px) == n*imageSize {
		return split(px, n), nil
	}
	// Read here, or again for the wording of a wrong count.
	px = make([]byte, n*imageSize)
	switch {
	case in.JSON != nil:
		err = decodeJSON(in.JSON, in.Datatype, px, at+".data")
	case in.Raw != nil:
		err = decodeRaw(in.Raw, in.Datatype, px, at)
	case in.FP32 != nil:
		if in.Datatype != "FP32" {
			return nil, invalid("%s has fp32_contents but datatype %s; send uint_contents for UINT8", at, in.Datatype)
		}
		err = decodeFloats(in.FP32, px, at+".contents.fp32_contents")
	default:
		if in.Datatype != "UINT8" {
			return nil, invalid("%s has uint_contents but datatype %s; send fp32_contents for FP32", at, in.Datatype)
		}
		err = decodeUints(in.Uint, px, at+".contents.uint_contents")
	}
	if err != nil {
		return nil, err
	}
	return split(px, n), nil
}

// split cuts px into its n images.
func split(px []byte, n int) [][]byte {
	imgs := make([][]byte, n)
	for i := range imgs {
		imgs[i] = px[i*imageSize : (i+1)*imageSize : (i+1)*imageSize]
	}
	return imgs
}

// shapes is how the input's shapes are named in messages.
const shapes = "[N,1,28,28], [N,28,28] or [N,784] with N in 1..256"

// imageCount checks the input's shape and returns its N.
func imageCount(shape []int64) (int, error) {
	ok := false
	switch len(shape) {
	case 2:
		ok = shape[1] == imageSize
	case 3:
		ok = shape[1] == imageSide && shape[2] == imageSide
	case 4:
		ok = shape[1] == 1 && shape[2] == imageSide && shape[3] == imageSide
	}
	if !ok || len(shape) == 0 || shape[0] < 1 || shape[0] > maxImages {
		return 0, invalid("inputs[0].shape is %s, want %s", formatShape(shape), shapes)
	}
	return int(shape[0]), nil
}

// echoMax bounds how much of a client's value an error repeats: a gRPC
// error travels in a header, which many clients cap at 16 KiB (a larger
// one resets the stream), and a message needs only the start to show
// which value it means.
const echoMax = 64

// Quote is s quoted for an error message, cut to its first echoMax bytes
// (and its length) when longer.
func Quote(s string) string {
	if len(s) <= echoMax {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:echoMax]) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

// formatShape writes a shape as the protocol's JSON does; a shape of
// more dimensions than any valid one is cut after the first 8.
func formatShape(shape []int64) string {
	const most = 8
	parts := make([]string, 0, min(len(shape), most)+1)
	for _, d := range shape[:min(len(shape), most)] {
		parts = append(parts, strconv.FormatInt(d, 10))
	}
	if len(shape) > most {
		parts = append(parts, "... ("+strconv.Itoa(len(shape))+" dimensions)")
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// elemSize is the bytes of one element of an input datatype.
func elemSize(datatype string) int {
	if datatype == "FP32" {
		return 4
	}
	return 1
}

// countError words data holding the wrong number of values.
func countError(at string, got, want int) error {
	return invalid("%s has %d values, want %d (the shape's N x 784)", at, got, want)
}

// String names the request for logs.
func (in *Input) String() string {
	return fmt.Sprintf("%s %s %s", in.Name, in.Datatype, formatShape(in.Shape))
}
