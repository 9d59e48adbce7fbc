package grpcapi

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/oip"
	pb "github.com/mnistserve/app/proto/inference"
)

// ServerLive answers true for as long as the process runs.
func (s *Server) ServerLive(context.Context, *pb.ServerLiveRequest) (*pb.ServerLiveResponse, error) {
	return &pb.ServerLiveResponse{Live: true}, nil
}

// ServerReady answers true when a model is served and the database
// answers; otherwise Unavailable saying which is not.
func (s *Server) ServerReady(ctx context.Context, _ *pb.ServerReadyRequest) (*pb.ServerReadyResponse, error) {
	if err := s.svc.Ready(ctx); err != nil {
		return nil, s.toStatus(err)
	}
	return &pb.ServerReadyResponse{Ready: true}, nil
}

// ModelReady answers true when the model (and version) can answer.
func (s *Server) ModelReady(ctx context.Context, req *pb.ModelReadyRequest) (*pb.ModelReadyResponse, error) {
	if err := s.svc.ModelReady(ctx, req.GetName(), req.GetVersion()); err != nil {
		return nil, s.toStatus(err)
	}
	return &pb.ModelReadyResponse{Ready: true}, nil
}

// ServerMetadata describes the server.
func (s *Server) ServerMetadata(context.Context, *pb.ServerMetadataRequest) (*pb.ServerMetadataResponse, error) {
	md := s.svc.ServerMetadata()
	return &pb.ServerMetadataResponse{Name: md.Name, Version: md.Version, Extensions: md.Extensions}, nil
}

// ModelMetadata describes the model.
func (s *Server) ModelMetadata(ctx context.Context, req *pb.ModelMetadataRequest) (*pb.ModelMetadataResponse, error) {
	md, err := s.svc.ModelMetadata(ctx, req.GetName(), req.GetVersion())
	if err != nil {
		return nil, s.toStatus(err)
	}
	tensors := func(ts []oip.TensorMetadata) []*pb.ModelMetadataResponse_TensorMetadata {
		out := make([]*pb.ModelMetadataResponse_TensorMetadata, len(ts))
		for i, t := range ts {
			out[i] = &pb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape}
		}
		return out
	}
	return &pb.ModelMetadataResponse{Name: md.Name, Versions: md.Versions, Platform: md.Platform,
		Inputs: tensors(md.Inputs), Outputs: tensors(md.Outputs)}, nil
}

// ModelInfer runs one inference request through the pipeline. Outputs
// come in raw_output_contents when the inputs came in raw_input_contents
// (or an output's binary_data parameter asks for it), else in contents.
func (s *Server) ModelInfer(ctx context.Context, req *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	in, raw, err := decodeInfer(req)
	if err != nil {
		return nil, s.toStatus(err)
	}
	res, err := s.svc.Infer(ctx, clientOf(ctx), req.GetModelName(), req.GetModelVersion(), in)
	if err != nil {
		return nil, s.toStatus(err)
	}
	return encodeInfer(res, raw), nil
}

// decodeInfer reads a request into the protocol's terms, and reports
// whether its data came raw.
func decodeInfer(req *pb.ModelInferRequest) (*oip.InferRequest, bool, error) {
	in := &oip.InferRequest{ID: req.GetId()}
	raw := req.GetRawInputContents()
	if len(raw) > 0 && len(raw) != len(req.GetInputs()) {
		return nil, false, invalid("raw_input_contents has %d entries for %d inputs, want one per input", len(raw), len(req.GetInputs()))
	}
	if p, ok := req.GetParameters()[oip.ParamBinAll]; ok {
		in.BinaryAll = p.GetBoolParam()
	}
	in.Inputs = make([]oip.Input, 0, len(req.GetInputs()))
	for i, t := range req.GetInputs() {
		x := oip.Input{Name: t.GetName(), Datatype: t.GetDatatype(), Shape: t.GetShape()}
		c := t.GetContents()
		switch {
		case len(raw) > 0 && c != nil:
			return nil, false, invalid("inputs[%d] has contents as well as raw_input_contents; send one or the other", i)
		case len(raw) > 0:
			x.Raw, x.HasData = raw[i], true
			if x.Raw == nil {
				x.Raw = []byte{}
			}
		case c == nil:
		case len(c.GetFp32Contents()) > 0:
			x.FP32, x.HasData = c.GetFp32Contents(), true
		case len(c.GetUintContents()) > 0:
			x.Uint, x.HasData = c.GetUintContents(), true
		case len(c.GetIntContents())+len(c.GetInt64Contents())+len(c.GetUint64Contents())+len(c.GetFp64Contents())+
			len(c.GetBoolContents())+len(c.GetBytesContents()) > 0:
			return nil, false, invalid("inputs[%d].contents holds a field other than fp32_contents (FP32) or uint_contents (UINT8)", i)
		}
		in.Inputs = append(in.Inputs, x)
	}
	for _, o := range req.GetOutputs() {
		in.Outputs = append(in.Outputs, oip.Output{Name: o.GetName(), Binary: o.GetParameters()[oip.ParamBinary].GetBoolParam()})
	}
	return in, len(raw) > 0, nil
}

// invalid is an InvalidArgument error about the request's content.
func invalid(format string, args ...any) error {
	return &oip.Error{Msg: fmt.Sprintf(format, args...), Kind: oip.ErrInvalid}
}

// encodeInfer writes the answer; raw puts every output's data in
// raw_output_contents. The output tensors share one allocation, and so do
// their raw bytes: the answer of one image was a dozen small objects more.
func encodeInfer(res *oip.InferResponse, raw bool) *pb.ModelInferResponse {
	n := len(res.Results)
	anyRaw := raw
	for _, o := range res.Outputs {
		anyRaw = anyRaw || o.Binary
	}
	out := &pb.ModelInferResponse{
		ModelName:    res.ModelName,
		ModelVersion: res.ModelVersion,
		Id:           res.ID,
		Parameters: map[string]*pb.InferParameter{
			oip.ParamIDs: {ParameterChoice: &pb.InferParameter_StringParam{StringParam: res.IDs()}},
		},
		Outputs: make([]*pb.ModelInferResponse_InferOutputTensor, len(res.Outputs)),
	}
	tensors := make([]pb.ModelInferResponse_InferOutputTensor, len(res.Outputs))
	var bin []byte
	if anyRaw {
		// The protocol has every output raw or none: a response with
		// raw_output_contents has an entry for each output.
		out.RawOutputContents = make([][]byte, len(res.Outputs))
		bin = make([]byte, 0, n*(4*model.Classes+8))
	}
	for i, o := range res.Outputs {
		t := &tensors[i]
		t.Name = o.Name
		start := len(bin)
		if o.Name == oip.OutputProbs {
			t.Datatype, t.Shape = "FP32", []int64{int64(n), model.Classes}
			if anyRaw {
				for _, r := range res.Results {
					for _, v := range r.Probabilities {
						bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(v))
					}
				}
			} else {
				vals := make([]float32, 0, n*model.Classes)
				for _, r := range res.Results {
					vals = append(vals, r.Probabilities[:]...)
				}
				t.Contents = &pb.InferTensorContents{Fp32Contents: vals}
			}
		} else {
			t.Datatype, t.Shape = "INT64", []int64{int64(n)}
			if anyRaw {
				for _, r := range res.Results {
					bin = binary.LittleEndian.AppendUint64(bin, uint64(r.Prediction))
				}
			} else {
				vals := make([]int64, n)
				for j, r := range res.Results {
					vals[j] = int64(r.Prediction)
				}
				t.Contents = &pb.InferTensorContents{Int64Contents: vals}
			}
		}
		out.Outputs[i] = t
		if anyRaw {
			out.RawOutputContents[i] = bin[start:len(bin):len(bin)]
		}
	}
	return out
}
