package serve

import (
	"encoding/binary"
	"math"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/oip"
)

// writeV2 answers an inference response: all JSON, or, when an output is
// asked for as binary data, the JSON followed by those outputs' bytes
// (little-endian, in the order of the outputs), with the JSON's length in
// Inference-Header-Content-Length. The JSON is written by hand, like
// /predict's answer; floats as encoding/json writes them.
func writeV2(c echo.Context, res *oip.InferResponse) error {
	n := len(res.Results)
	b := make([]byte, 0, 256+n*200)
	b = append(b, `{"model_name":`...)
	b = appendString(b, res.ModelName)
	b = append(b, `,"model_version":`...)
	b = appendString(b, res.ModelVersion)
	if res.ID != "" {
		b = append(b, `,"id":`...)
		b = appendString(b, res.ID)
	}
	b = append(b, `,"parameters":{"`+oip.ParamIDs+`":`...)
	b = appendString(b, res.IDs())
	b = append(b, `},"outputs":[`...)
	var bin []byte
	for i, o := range res.Outputs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":"`...)
		b = append(b, o.Name...)
		if o.Name == oip.OutputProbs {
			b = append(b, `","datatype":"FP32","shape":[`...)
			b = strconv.AppendInt(b, int64(n), 10)
			b = append(b, ',')
			b = strconv.AppendInt(b, model.Classes, 10)
			b = append(b, ']')
		} else {
			b = append(b, `","datatype":"INT64","shape":[`...)
			b = strconv.AppendInt(b, int64(n), 10)
			b = append(b, ']')
		}
		if o.Binary {
			start := len(bin)
			bin = appendOutputBinary(bin, o.Name, res)
			b = append(b, `,"parameters":{"`+oip.ParamBinSize+`":`...)
			b = strconv.AppendInt(b, int64(len(bin)-start), 10)
			b = append(b, `}}`...)
			continue
		}
		b = append(b, `,"data":[`...)
		b = appendOutputJSON(b, o.Name, res)
		b = append(b, `]}`...)
	}
	b = append(b, `]}`...)
	if bin == nil {
		return c.JSONBlob(http.StatusOK, b)
	}
	c.Response().Header().Set(headerInferLength, strconv.Itoa(len(b)))
	return c.Blob(http.StatusOK, echo.MIMEOctetStream, append(b, bin...))
}

// appendOutputJSON appends the values of output name, flat.
func appendOutputJSON(b []byte, name string, res *oip.InferResponse) []byte {
	for i, r := range res.Results {
		if i > 0 {
			b = append(b, ',')
		}
		if name == oip.OutputDigit {
			b = strconv.AppendInt(b, int64(r.Prediction), 10)
			continue
		}
		for k, v := range r.Probabilities {
			if k > 0 {
				b = append(b, ',')
			}
			b = appendJSONFloat(b, v)
		}
	}
	return b
}

// appendJSONFloat writes v as encoding/json does; a value JSON cannot hold
// (never a probability) is written as 0 rather than breaking the answer.
func appendJSONFloat(b []byte, v float32) []byte {
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		return append(b, '0')
	}
	return appendFloat32(b, v)
}

// appendOutputBinary appends the values of output name as little-endian
// binary tensor data.
func appendOutputBinary(b []byte, name string, res *oip.InferResponse) []byte {
	for _, r := range res.Results {
		if name == oip.OutputDigit {
			b = binary.LittleEndian.AppendUint64(b, uint64(r.Prediction))
			continue
		}
		for _, v := range r.Probabilities {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	return b
}
