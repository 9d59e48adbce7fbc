package conformance

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/mnistserve/app/api/apitest"
	"github.com/mnistserve/app/serve"
)

// restClient speaks the protocol's HTTP/REST binding to a server's
// handler, through its middleware and error handler.
type restClient struct {
	tb    testing.TB
	srv   *serve.Server
	token string
}

// do sends one request and returns the answer.
func (c *restClient) do(method, path string, header http.Header, body []byte) *httptest.ResponseRecorder {
	c.tb.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	if c.token != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	// Every answer is also checked against the OpenAPI document.
	return apitest.Serve(c.tb, c.srv, req)
}

// restError reads an error answer: {"error": "..."} with its status.
func restError(tb testing.TB, rec *httptest.ResponseRecorder) error {
	tb.Helper()
	var body struct {
		Error *string `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == nil {
		tb.Fatalf("status %d with body %q: want {\"error\": ...}", rec.Code, rec.Body)
	}
	k := map[int]kind{
		http.StatusBadRequest: invalidArgument, http.StatusNotFound: notFound,
		http.StatusUnauthorized: unauthenticated, http.StatusForbidden: permissionDenied,
		http.StatusTooManyRequests: exhausted, http.StatusServiceUnavailable: unavailable,
	}[rec.Code]
	if k == "" {
		k = kind(fmt.Sprintf("internal (HTTP %d)", rec.Code))
	}
	return &protoError{Kind: k, Message: *body.Error}
}

// get answers a GET whose 200 body decodes into out.
func (c *restClient) get(path string, out any) error {
	rec := c.do(http.MethodGet, path, nil, nil)
	if rec.Code != http.StatusOK {
		return restError(c.tb, rec)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
		c.tb.Fatalf("GET %s: %v in %q", path, err, rec.Body)
	}
	return nil
}

func (c *restClient) Live() (bool, error) {
	var v struct{ Live bool }
	err := c.get("/v2/health/live", &v)
	return v.Live, err
}

func (c *restClient) Ready() (bool, error) {
	var v struct{ Ready bool }
	err := c.get("/v2/health/ready", &v)
	return v.Ready, err
}

func (c *restClient) ServerMetadata() (serverMetadata, error) {
	var v serverMetadata
	err := c.get("/v2", &v)
	return v, err
}

// modelPath is v2/models/<model_name>[/versions/<model_version>].
func modelPath(name, version string) string {
	p := "/v2/models/" + name
	if version != "" {
		p += "/versions/" + version
	}
	return p
}

func (c *restClient) ModelMetadata(name, version string) (modelMetadata, error) {
	var v modelMetadata
	err := c.get(modelPath(name, version), &v)
	return v, err
}

func (c *restClient) ModelReady(name, version string) (bool, error) {
	var v struct {
		Name  string
		Ready bool
	}
	err := c.get(modelPath(name, version)+"/ready", &v)
	if err == nil && v.Name != name {
		c.tb.Errorf("model ready answered name %q, want %q", v.Name, name)
	}
	return v.Ready, err
}

// nest writes values as JSON arrays nested by shape.
func nest(b *strings.Builder, values []float64, shape []int64, datatype string) {
	if len(shape) <= 1 {
		b.WriteByte('[')
		for i, v := range values {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(jsonNumber(v, datatype))
		}
		b.WriteByte(']')
		return
	}
	step := len(values) / int(max(shape[0], 1))
	b.WriteByte('[')
	for i := range int(shape[0]) {
		if i > 0 {
			b.WriteByte(',')
		}
		nest(b, values[i*step:(i+1)*step], shape[1:], datatype)
	}
	b.WriteByte(']')
}

func jsonNumber(v float64, datatype string) string {
	if datatype == "FP32" {
		return strconv.FormatFloat(v, 'g', -1, 32)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// restBody builds an inference request's body and headers.
func restBody(req request) ([]byte, http.Header) {
	in := map[string]any{"name": req.Name, "datatype": req.Datatype, "shape": req.Shape}
	var bin []byte
	switch {
	case req.NoData:
	case req.Binary:
		for _, v := range req.Values {
			if req.Datatype == "FP32" {
				bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(float32(v)))
			} else {
				bin = append(bin, byte(v))
			}
		}
		in["parameters"] = map[string]any{"binary_data_size": len(bin)}
	case req.Nested:
		var b strings.Builder
		nest(&b, req.Values, req.Shape, req.Datatype)
		in["data"] = json.RawMessage(b.String())
	default:
		var b strings.Builder
		nest(&b, req.Values, nil, req.Datatype)
		in["data"] = json.RawMessage(b.String())
	}
	body := map[string]any{"inputs": []any{in}}
	if req.ID != "" {
		body["id"] = req.ID
	}
	if len(req.Outputs) > 0 {
		var outs []any
		for _, name := range req.Outputs {
			o := map[string]any{"name": name}
			if req.BinOut {
				o["parameters"] = map[string]any{"binary_data": true}
			}
			outs = append(outs, o)
		}
		body["outputs"] = outs
	} else if req.BinOut {
		body["parameters"] = map[string]any{"binary_data_output": true}
	}
	js, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if bin != nil || req.BinOut {
		h.Set("Inference-Header-Content-Length", strconv.Itoa(len(js)))
		h.Set("Content-Type", "application/octet-stream")
	}
	if req.Token != "" {
		h.Set("Authorization", "Bearer "+req.Token)
	}
	return append(js, bin...), h
}

func (c *restClient) Infer(name, version string, req request) (*response, error) {
	body, h := restBody(req)
	rec := c.do(http.MethodPost, modelPath(name, version)+"/infer", h, body)
	if rec.Code != http.StatusOK {
		return nil, restError(c.tb, rec)
	}
	return readRESTResponse(c.tb, rec)
}

// readRESTResponse reads an inference response, JSON or JSON and binary
// data.
func readRESTResponse(tb testing.TB, rec *httptest.ResponseRecorder) (*response, error) {
	tb.Helper()
	raw := rec.Body.Bytes()
	var bin []byte
	if h := rec.Header().Get("Inference-Header-Content-Length"); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n > len(raw) {
			tb.Fatalf("Inference-Header-Content-Length %q for a body of %d bytes", h, len(raw))
		}
		raw, bin = raw[:n], raw[n:]
	}
	var wire struct {
		ModelName    string `json:"model_name"`
		ModelVersion string `json:"model_version"`
		ID           string `json:"id"`
		Parameters   struct {
			IDs string `json:"prediction_ids"`
		} `json:"parameters"`
		Outputs []struct {
			Name       string
			Datatype   string
			Shape      []int64
			Parameters struct {
				Size *int `json:"binary_data_size"`
			}
			Data []json.Number
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&wire); err != nil {
		tb.Fatalf("inference response %q: %v", raw, err)
	}
	res := &response{ModelName: wire.ModelName, ModelVersion: wire.ModelVersion, ID: wire.ID, IDs: wire.Parameters.IDs}
	for _, o := range wire.Outputs {
		out := output{Name: o.Name, Datatype: o.Datatype, Shape: o.Shape}
		if o.Parameters.Size != nil {
			out.Binary = true
			n := *o.Parameters.Size
			if n > len(bin) {
				tb.Fatalf("output %s claims %d bytes of binary data, %d are left", o.Name, n, len(bin))
			}
			data := bin[:n]
			bin = bin[n:]
			for i := 0; i < len(data); {
				if o.Datatype == "FP32" {
					out.FP32 = append(out.FP32, math.Float32frombits(binary.LittleEndian.Uint32(data[i:])))
					i += 4
				} else {
					out.INT64 = append(out.INT64, int64(binary.LittleEndian.Uint64(data[i:])))
					i += 8
				}
			}
		}
		for _, d := range o.Data {
			if o.Datatype == "FP32" {
				f, _ := d.Float64()
				out.FP32 = append(out.FP32, float32(f))
			} else {
				n, _ := d.Int64()
				out.INT64 = append(out.INT64, n)
			}
		}
		res.Outputs = append(res.Outputs, out)
	}
	if len(bin) > 0 {
		tb.Errorf("%d bytes of binary data after the outputs'", len(bin))
	}
	return res, nil
}
