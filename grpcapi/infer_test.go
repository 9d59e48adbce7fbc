package grpcapi

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/oip"
	"github.com/mnistserve/app/pipeline"
	pb "github.com/mnistserve/app/proto/inference"
)

// results are n stored answers: image i predicts digit i+1 with
// probability 0.5 and 0.05 for every other digit, stored as row 100+i.
func results(n int) []pipeline.Result {
	out := make([]pipeline.Result, n)
	for i := range out {
		for d := range out[i].Probabilities {
			out[i].Probabilities[d] = 0.05
		}
		out[i].Prediction = i + 1
		out[i].Probabilities[i+1] = 0.5
		out[i].ID = int64(100 + i)
	}
	return out
}

// wantProbs and wantDigits are what results(n) should answer.
func wantProbs(n int) []float32 {
	var out []float32
	for _, r := range results(n) {
		out = append(out, r.Probabilities[:]...)
	}
	return out
}

func wantDigits(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

// decoded reads output i of res back, from raw_output_contents or from
// contents, and reports whether it came raw.
func decoded(t *testing.T, res *pb.ModelInferResponse, i int) (probs []float32, digits []int64, raw bool) {
	t.Helper()
	o := res.GetOutputs()[i]
	if len(res.GetRawOutputContents()) == 0 {
		return o.GetContents().GetFp32Contents(), o.GetContents().GetInt64Contents(), false
	}
	if o.GetContents() != nil {
		t.Errorf("output %s has contents as well as raw_output_contents", o.GetName())
	}
	b := res.GetRawOutputContents()[i]
	switch o.GetDatatype() {
	case "FP32":
		for j := 0; j+4 <= len(b); j += 4 {
			probs = append(probs, math.Float32frombits(binary.LittleEndian.Uint32(b[j:])))
		}
		if len(b)%4 != 0 {
			t.Errorf("output %s has %d raw bytes, not a multiple of 4", o.GetName(), len(b))
		}
	case "INT64":
		for j := 0; j+8 <= len(b); j += 8 {
			digits = append(digits, int64(binary.LittleEndian.Uint64(b[j:])))
		}
		if len(b)%8 != 0 {
			t.Errorf("output %s has %d raw bytes, not a multiple of 8", o.GetName(), len(b))
		}
	}
	return probs, digits, true
}

func TestEncodeInferAnswersEachOutputAskedForInTheFormAskedFor(t *testing.T) {
	probs := oip.Output{Name: oip.OutputProbs}
	digits := oip.Output{Name: oip.OutputDigit}
	binDigits := oip.Output{Name: oip.OutputDigit, Binary: true}
	for _, tc := range []struct {
		name    string
		n       int
		outputs []oip.Output
		raw     bool // the request came in raw_input_contents
		wantRaw bool
	}{
		{"one image, raw in, both outputs raw", 1, []oip.Output{probs, digits}, true, true},
		{"three images, raw in, both outputs raw", 3, []oip.Output{probs, digits}, true, true},
		{"raw in, the digits alone", 2, []oip.Output{digits}, true, true},
		{"raw in, digits asked before probabilities", 2, []oip.Output{digits, probs}, true, true},
		{"typed contents in, typed contents out", 3, []oip.Output{probs, digits}, false, false},
		{"typed in, one output asked binary puts every output raw", 2, []oip.Output{probs, binDigits}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := encodeInfer(&oip.InferResponse{ModelName: "mnist", ModelVersion: "v1", ID: "7",
				Outputs: tc.outputs, Results: results(tc.n)}, tc.raw)
			if res.GetModelName() != "mnist" || res.GetModelVersion() != "v1" || res.GetId() != "7" {
				t.Errorf("model %q version %q id %q, want mnist v1 7", res.GetModelName(), res.GetModelVersion(), res.GetId())
			}
			if got, want := res.GetParameters()[oip.ParamIDs].GetStringParam(), (&oip.InferResponse{Results: results(tc.n)}).IDs(); got != want {
				t.Errorf("%s = %q, want %q", oip.ParamIDs, got, want)
			}
			if len(res.GetOutputs()) != len(tc.outputs) {
				t.Fatalf("%d outputs, want %d", len(res.GetOutputs()), len(tc.outputs))
			}
			if raw := len(res.GetRawOutputContents()); raw != 0 && raw != len(tc.outputs) {
				t.Fatalf("%d raw_output_contents for %d outputs, want one each or none", raw, len(tc.outputs))
			}
			for i, want := range tc.outputs {
				o := res.GetOutputs()[i]
				if o.GetName() != want.Name {
					t.Errorf("output %d is %q, want %q", i, o.GetName(), want.Name)
				}
				p, d, raw := decoded(t, res, i)
				if raw != tc.wantRaw {
					t.Errorf("output %s raw %v, want %v", o.GetName(), raw, tc.wantRaw)
				}
				switch want.Name {
				case oip.OutputProbs:
					if o.GetDatatype() != "FP32" || !slices.Equal(o.GetShape(), []int64{int64(tc.n), model.Classes}) {
						t.Errorf("probabilities %s %v, want FP32 [%d 10]", o.GetDatatype(), o.GetShape(), tc.n)
					}
					if !slices.Equal(p, wantProbs(tc.n)) {
						t.Errorf("probabilities %v, want %v", p, wantProbs(tc.n))
					}
				case oip.OutputDigit:
					if o.GetDatatype() != "INT64" || !slices.Equal(o.GetShape(), []int64{int64(tc.n)}) {
						t.Errorf("prediction %s %v, want INT64 [%d]", o.GetDatatype(), o.GetShape(), tc.n)
					}
					if !slices.Equal(d, wantDigits(tc.n)) {
						t.Errorf("prediction %v, want %v", d, wantDigits(tc.n))
					}
				}
			}
		})
	}
}
