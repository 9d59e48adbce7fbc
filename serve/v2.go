package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/mnistserve/app/oip"
)

// The Open Inference Protocol (KServe v2) over REST: this file only
// translates between HTTP and the protocol service (package oip), which
// runs the requests through the same pipeline as /predict.

// headerInferLength is the binary tensor data extension's header: the
// bytes of JSON at the start of the body, binary tensor data after them.
const headerInferLength = "Inference-Header-Content-Length"

// v2Depth is the deepest a v2 inference body nests: the object, inputs,
// an input, and its data nested as [N,1,28,28]; parameters nest less.
const v2Depth = 7

// OIP returns the protocol service behind the v2 routes, for the gRPC
// transport to share.
func (s *Server) OIP() *oip.Service { return s.oip }

// handleV2Live serves GET /v2/health/live: 200 for as long as the process runs.
func (s *Server) handleV2Live(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]bool{"live": true})
}

// handleV2Ready serves GET /v2/health/ready: 200 when a model is served
// and the database answers, else 503 saying which is not.
func (s *Server) handleV2Ready(c echo.Context) error {
	if err := s.ready(c.Request().Context()); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]bool{"ready": true})
}

// handleV2Server serves GET /v2: the server's name, version and extensions.
func (s *Server) handleV2Server(c echo.Context) error {
	return c.JSON(http.StatusOK, s.oip.ServerMetadata())
}

// v2Version is the model version a v2 route names, "" on the routes
// without /versions/; on those with it, an empty version (a path of
// /versions//) names no version and is 404, not the served model.
func v2Version(c echo.Context) (string, error) {
	v := c.Param("version")
	if v == "" && strings.Contains(c.Path(), "/versions/") {
		return "", errorf(http.StatusNotFound, "the path names an empty model version; leave out /versions/ for the served one")
	}
	return v, nil
}

// handleV2Model serves GET /v2/models/:model[/versions/:version]: the
// model's versions, platform, inputs and outputs.
func (s *Server) handleV2Model(c echo.Context) error {
	version, err := v2Version(c)
	if err != nil {
		return err
	}
	md, err := s.oip.ModelMetadata(c.Request().Context(), c.Param("model"), version)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, md)
}

// modelReady is the answer of the model ready routes.
type modelReady struct {
	Name  string `json:"name"`
	Ready bool   `json:"ready"`
}

// handleV2ModelReady serves GET /v2/models/:model[/versions/:version]/ready.
func (s *Server) handleV2ModelReady(c echo.Context) error {
	version, err := v2Version(c)
	if err != nil {
		return err
	}
	if err := s.oip.ModelReady(c.Request().Context(), c.Param("model"), version); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, modelReady{Name: oip.ModelName, Ready: true})
}

// handleV2Infer serves POST /v2/models/:model[/versions/:version]/infer: a
// JSON inference request, or JSON and binary tensor data after it.
func (s *Server) handleV2Infer(c echo.Context) error {
	version, err := v2Version(c)
	if err != nil {
		return err
	}
	r := c.Request()
	hlen := r.Header.Get(headerInferLength)
	if hlen == "" {
		if _, _, err := contentKind(r.Header.Get(echo.HeaderContentType), false); err != nil {
			return err
		}
	}
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	req, err := decodeV2(body, hlen)
	if err != nil {
		return err
	}
	res, err := s.oip.Infer(r.Context(), clientOf(c), c.Param("model"), version, req)
	if err != nil {
		return err
	}
	return writeV2(c, res)
}

// v2Request is the JSON of an inference request.
type v2Request struct {
	ID         *string           `json:"id"`
	Parameters v2Params          `json:"parameters"`
	Inputs     []v2Input         `json:"inputs"`
	Outputs    []v2RequestOutput `json:"outputs"`
}

type v2Input struct {
	Name       *string  `json:"name"`
	Shape      []int64  `json:"shape"`
	Datatype   *string  `json:"datatype"`
	Parameters v2Params `json:"parameters"`
	Data       skipped  `json:"data"` // read in place by inputData
}

// skipped is a field encoding/json validates but does not copy: the data
// of an input is most of a body, and a copy of it doubled a request's
// memory. inputData finds it in the body instead.
type skipped struct{}

func (*skipped) UnmarshalJSON([]byte) error { return nil }

// The keys of each object of a request, as the protocol writes them.
var (
	requestKeys = []string{"id", "parameters", "inputs", "outputs"}
	inputKeys   = []string{"name", "shape", "datatype", "parameters", "data"}
	outputKeys  = []string{"name", "parameters"}
)

// keysAsWritten refuses a key that differs from one of the protocol's only
// in case ("INPUTS", "Data"): encoding/json would take it for that field
// while the walkers that find the data match keys exactly, so such a body
// could be read half from one key and half from the other. body is a
// valid JSON object.
func keysAsWritten(body []byte) error {
	check := func(obj []byte, at string, keys []string) error {
		var err error
		eachMember(obj, func(key, _ []byte) bool {
			k := keyText(key)
			for _, want := range keys {
				if k != want && strings.EqualFold(k, want) {
					err = invalid("%s has the key %s; keys are case-sensitive, want %q", at, oip.Quote(k), want)
					return false
				}
			}
			return true
		})
		return err
	}
	body = bytes.TrimSpace(body)
	if err := check(body, "the request", requestKeys); err != nil {
		return err
	}
	for name, keys := range map[string][]string{"inputs": inputKeys, "outputs": outputKeys} {
		list, ok := member(body, name)
		if !ok || len(list) == 0 || list[0] != '[' {
			continue
		}
		var err error
		elements(list, func(i int, el []byte) bool {
			if len(el) > 0 && el[0] == '{' {
				err = check(el, fmt.Sprintf("%s[%d]", name, i), keys)
			}
			return err == nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// inputData returns the "data" value of each input of the valid JSON
// object body, as slices of body (nil where an input has none).
func inputData(body []byte) [][]byte {
	inputs, ok := member(bytes.TrimSpace(body), "inputs")
	if !ok || len(inputs) == 0 || inputs[0] != '[' {
		return nil
	}
	var out [][]byte
	elements(inputs, func(_ int, in []byte) bool {
		var d []byte
		if len(in) > 0 && in[0] == '{' {
			if v, ok := member(in, "data"); ok && string(v) != "null" {
				d = v
			}
		}
		out = append(out, d)
		return true
	})
	return out
}

type v2RequestOutput struct {
	Name       *string  `json:"name"`
	Parameters v2Params `json:"parameters"`
}

// v2Params are a request's parameters: values of any JSON type, of which
// only the binary extension's are read.
type v2Params map[string]json.RawMessage

// flag reads a boolean parameter; absent is false.
func (p v2Params) flag(name, at string) (bool, error) {
	raw, ok := p[name]
	if !ok {
		return false, nil
	}
	var v bool
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, invalid("%s.parameters.%s is %s, want true or false", at, name, raw)
	}
	return v, nil
}

// decodeV2 reads an inference request: all JSON, or with hlen (the
// Inference-Header-Content-Length) the first hlen bytes JSON and binary
// tensor data after them, claimed in order by the inputs that give a
// binary_data_size. A plain body, of JSON alone or of a JSON header and
// the binary data of its one input, is read by the one-pass scanner
// (v2_scan.go); anything else by the general decoder, which also words
// every error.
func decodeV2(body []byte, hlen string) (*oip.InferRequest, error) {
	jsonPart, bin, err := splitBinary(body, hlen)
	if err != nil {
		return nil, err
	}
	if req, ok := scanV2(jsonPart, bin); ok {
		return req, nil
	}
	return preciseParts(jsonPart, bin)
}

// splitBinary splits body into its JSON and, with hlen (the
// Inference-Header-Content-Length), the binary tensor data after the
// first hlen bytes; bin is nil without hlen.
func splitBinary(body []byte, hlen string) (jsonPart, bin []byte, err error) {
	if hlen == "" {
		return body, nil, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(hlen))
	if err != nil || n <= 0 || n > len(body) {
		return nil, nil, invalid("%s is %q, want the bytes of JSON at the start of the body (1..%d)", headerInferLength, hlen, len(body))
	}
	return body[:n], body[n:], nil
}

// preciseV2 is decodeV2 without the scanner: the general decoder alone,
// which the scanner's tests hold it to.
func preciseV2(body []byte, hlen string) (*oip.InferRequest, error) {
	jsonPart, bin, err := splitBinary(body, hlen)
	if err != nil {
		return nil, err
	}
	return preciseParts(jsonPart, bin)
}

// preciseParts is the general path of decodeV2, on the body already split
// (splitBinary): encoding/json reads the envelope, once the JSON's nesting
// is known to be shallow, and words what is wrong.
func preciseParts(jsonPart, bin []byte) (*oip.InferRequest, error) {
	if err := checkNesting(jsonPart, v2Depth); err != nil {
		return nil, err
	}
	// encoding/json takes null for any struct, leaving it empty; the
	// walkers below read an object only.
	if t := bytes.TrimSpace(jsonPart); len(t) > 0 && t[0] != '{' && json.Valid(t) {
		return nil, invalid(`body is %s, want a JSON object like {"inputs": [...]}`, kind(t))
	}
	var wire v2Request
	if err := json.Unmarshal(jsonPart, &wire); err != nil {
		return nil, jsonError(err)
	}
	if err := keysAsWritten(jsonPart); err != nil {
		return nil, err
	}
	req := &oip.InferRequest{}
	if wire.ID != nil {
		req.ID = *wire.ID
	}
	var err error
	if req.BinaryAll, err = wire.Parameters.flag(oip.ParamBinAll, "request"); err != nil {
		return nil, err
	}
	data := inputData(jsonPart)
	if wire.Inputs == nil {
		return nil, invalid(`inputs is missing, want [{"name": "image", "datatype": "FP32", "shape": [1,784], "data": [...]}]`)
	}
	for i, in := range wire.Inputs {
		at := fmt.Sprintf("inputs[%d]", i)
		switch {
		case in.Name == nil:
			return nil, invalid("%s.name is missing, want %q", at, oip.InputName)
		case in.Datatype == nil:
			return nil, invalid("%s.datatype is missing, want FP32 or UINT8", at)
		case in.Shape == nil:
			return nil, invalid("%s.shape is missing, want [N,1,28,28], [N,28,28] or [N,784]", at)
		}
		t := oip.Input{Name: *in.Name, Datatype: *in.Datatype, Shape: in.Shape}
		if raw, ok := in.Parameters[oip.ParamBinSize]; ok {
			if bin == nil {
				return nil, invalid("%s.parameters.%s is given, but the request has no %s header, so it carries no binary data", at, oip.ParamBinSize, headerInferLength)
			}
			if i < len(data) && data[i] != nil {
				return nil, invalid("%s has both data and parameters.%s; give its values one way", at, oip.ParamBinSize)
			}
			size, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil || size < 0 {
				return nil, invalid("%s.parameters.%s is %s, want a byte count", at, oip.ParamBinSize, raw)
			}
			if size > int64(len(bin)) {
				return nil, invalid("%s.parameters.%s is %d, but only %d bytes of binary data are left in the body", at, oip.ParamBinSize, size, len(bin))
			}
			t.Raw, bin = bin[:size:size], bin[size:]
			t.HasData = true
		} else if i < len(data) && data[i] != nil {
			t.JSON, t.HasData = data[i], true
		}
		req.Inputs = append(req.Inputs, t)
	}
	if len(bin) > 0 {
		return nil, invalid("the body has %d bytes of binary data that no input claims with %s", len(bin), oip.ParamBinSize)
	}
	for i, o := range wire.Outputs {
		at := fmt.Sprintf("outputs[%d]", i)
		if o.Name == nil {
			return nil, invalid("%s.name is missing, want %q or %q", at, oip.OutputProbs, oip.OutputDigit)
		}
		b, err := o.Parameters.flag(oip.ParamBinary, at)
		if err != nil {
			return nil, err
		}
		req.Outputs = append(req.Outputs, oip.Output{Name: *o.Name, Binary: b})
	}
	return req, nil
}

// jsonError words what encoding/json found wrong with a v2 body, naming
// the field.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return invalid("%s is a JSON %s, want %s", te.Field, te.Value, jsonType(te.Type.String()))
	case errors.As(err, &te):
		return invalid("body is a JSON %s, want an object", te.Value)
	case errors.As(err, &se):
		return invalid("body is not valid JSON at byte %d: %v", se.Offset, err)
	}
	return invalid("body is not valid JSON: %v", err)
}

// jsonType names a Go type the way the protocol's text does.
func jsonType(goType string) string {
	switch {
	case goType == "string", goType == "*string":
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "serve."):
		return "an object"
	case goType == "int64":
		return "an integer"
	}
	return goType
}
