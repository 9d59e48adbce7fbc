package conformance

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/mnistserve/app/serve"
	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// pixelsJSON is 784 UINT8 values, flat.
func pixelsJSON() string {
	return "[" + strings.TrimSuffix(strings.Repeat("0,", 784), ",") + "]"
}

func TestRESTBodiesThatAreNotRequestsAre400NamingTheField(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		c := &restClient{tb: t, srv: newServer(t, st, false)}
		px := pixelsJSON()
		input := func(fields string) string { return `{"inputs":[{` + fields + `}]}` }
		for _, tc := range []struct {
			name, body string
			header     http.Header
			words      []string
		}{
			{"a body that is not JSON", `{"inputs": [`, nil, []string{"JSON"}},
			{"a body that is an array", `[1,2]`, nil, []string{"object"}},
			{"a body that is null", `null`, nil, []string{"null", "object"}},
			{"a key written in another case", `{"inputs":[{"name":"image","datatype":"UINT8","shape":[1,784],"data":` + px + `}],"INPUTS":[{"name":"image","datatype":"FP32","shape":[1,784]}]}`,
				nil, []string{"INPUTS", "case-sensitive"}},
			{"an input key written in another case", input(`"name":"image","datatype":"UINT8","shape":[1,784],"Data":` + px), nil, []string{"inputs[0]", "Data", "case-sensitive"}},
			{"data and a binary_data_size both", input(`"name":"image","datatype":"UINT8","shape":[1,784],"data":`+px+`,"parameters":{"binary_data_size":784}`) + strings.Repeat("\x00", 784),
				http.Header{"Inference-Header-Content-Length": {strconv.Itoa(len(input(`"name":"image","datatype":"UINT8","shape":[1,784],"data":` + px + `,"parameters":{"binary_data_size":784}`)))}},
				[]string{"inputs[0]", "both data", "binary_data_size"}},
			{"a binary_data_size without the header", input(`"name":"image","datatype":"UINT8","shape":[1,784],"parameters":{"binary_data_size":0}`), nil,
				[]string{"binary_data_size", "Inference-Header-Content-Length"}},
			{"a body that is null between spaces", " null\n", nil, []string{"null", "object"}},
			{"a JSON part that is null before binary data", "null" + strings.Repeat("\x00", 784),
				http.Header{"Inference-Header-Content-Length": {"4"}}, []string{"null", "object"}},
			{"a request without inputs", `{"id":"42"}`, nil, []string{"inputs", "missing"}},
			{"an id that is a number", `{"id":42,"inputs":[]}`, nil, []string{"id", "string"}},
			{"inputs that are an object", `{"inputs":{}}`, nil, []string{"inputs", "array"}},
			{"no input at all", `{"inputs":[]}`, nil, []string{"inputs", "0 tensors"}},
			{"an input without a name", input(`"datatype":"UINT8","shape":[1,784],"data":` + px), nil, []string{"inputs[0].name", "missing"}},
			{"an input without a datatype", input(`"name":"image","shape":[1,784],"data":` + px), nil, []string{"inputs[0].datatype", "missing"}},
			{"an input without a shape", input(`"name":"image","datatype":"UINT8","data":` + px), nil, []string{"inputs[0].shape", "missing"}},
			{"a shape of strings", input(`"name":"image","datatype":"UINT8","shape":["1","784"],"data":` + px), nil, []string{"shape", "string"}},
			{"a shape of fractions", input(`"name":"image","datatype":"UINT8","shape":[1.5,784],"data":` + px), nil, []string{"shape"}},
			{"data that is a string", input(`"name":"image","datatype":"UINT8","shape":[1,784],"data":"AAAA"`), nil, []string{"inputs[0].data", "string"}},
			{"data holding a string", input(`"name":"image","datatype":"UINT8","shape":[1,784],"data":["0"` + strings.Repeat(",0", 783) + `]`), nil, []string{"inputs[0].data[0]", "string"}},
			{"data holding null", input(`"name":"image","datatype":"UINT8","shape":[1,784],"data":[null` + strings.Repeat(",0", 783) + `]`), nil, []string{"inputs[0].data[0]", "null"}},
			{"data holding a fraction as UINT8", input(`"name":"image","datatype":"UINT8","shape":[1,784],"data":[0.5` + strings.Repeat(",0", 783) + `]`), nil, []string{"inputs[0].data[0]", "0..255"}},
			{"a number literal of a thousand digits", input(`"name":"image","datatype":"UINT8","shape":[1,784],"data":[` + strings.Repeat("1", 1000) + strings.Repeat(",0", 783) + `]`), nil, []string{"inputs[0].data[0]"}},
			{"data nested far too deep", input(`"name":"image","datatype":"UINT8","shape":[1,784],"data":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000)), nil, []string{"deep", "[N,1,28,28]"}},
			{"an output without a name", `{"inputs":[{"name":"image","datatype":"UINT8","shape":[1,784],"data":` + px + `}],"outputs":[{}]}`, nil, []string{"outputs[0].name", "missing"}},
			{"binary_data that is not a boolean", `{"inputs":[{"name":"image","datatype":"UINT8","shape":[1,784],"data":` + px + `}],"outputs":[{"name":"prediction","parameters":{"binary_data":"yes"}}]}`, nil, []string{"outputs[0].parameters.binary_data"}},
			{"a header length past the body", `{"inputs":[]}`, http.Header{"Inference-Header-Content-Length": {"500"}}, []string{"Inference-Header-Content-Length"}},
			{"a header length that is not a number", `{"inputs":[]}`, http.Header{"Inference-Header-Content-Length": {"ten"}}, []string{"Inference-Header-Content-Length"}},
			{"a binary_data_size past the body", input(`"name":"image","datatype":"UINT8","shape":[1,784],"parameters":{"binary_data_size":784}`) + "abc",
				http.Header{"Inference-Header-Content-Length": {strconv.Itoa(len(input(`"name":"image","datatype":"UINT8","shape":[1,784],"parameters":{"binary_data_size":784}`)))}},
				[]string{"binary_data_size", "784", "3 bytes"}},
			{"a binary_data_size that is negative", input(`"name":"image","datatype":"UINT8","shape":[1,784],"parameters":{"binary_data_size":-1}`), nil, []string{"binary_data_size"}},
			{"binary data no input claims", input(`"name":"image","datatype":"UINT8","shape":[1,784],"data":`+px) + "xyz",
				http.Header{"Inference-Header-Content-Length": {strconv.Itoa(len(input(`"name":"image","datatype":"UINT8","shape":[1,784],"data":` + px)))}},
				[]string{"3 bytes", "binary_data_size"}},
			{"a binary_data_size that does not match the shape", input(`"name":"image","datatype":"FP32","shape":[1,784],"parameters":{"binary_data_size":784}`) + strings.Repeat("\x00", 784),
				http.Header{"Inference-Header-Content-Length": {strconv.Itoa(len(input(`"name":"image","datatype":"FP32","shape":[1,784],"parameters":{"binary_data_size":784}`)))}},
				[]string{"784 bytes", "3136"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := http.Header{"Content-Type": {"application/json"}}
				for k, v := range tc.header {
					h[k] = v
				}
				rec := c.do(http.MethodPost, "/v2/models/mnist/infer", h, []byte(tc.body))
				if rec.Code != http.StatusBadRequest {
					t.Fatalf("status %d %s, want 400", rec.Code, rec.Body)
				}
				wantKind(t, restError(t, rec), invalidArgument, tc.words...)
			})
		}
		if n := countRows(t, st); n != 0 {
			t.Errorf("%d rows stored for refused requests, want 0", n)
		}
	})
}

func TestRESTTenMegabytesOfJSON(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	// 10 MB of values for a one-image shape: refused by what it holds
	// when the body limit lets it in, by its size when it does not.
	body := `{"inputs":[{"name":"image","datatype":"FP32","shape":[1,784],"data":[` +
		strings.TrimSuffix(strings.Repeat("0.5,", 10<<20/4), ",") + `]}]}`
	for _, tc := range []struct {
		name    string
		maxBody int64
		status  int
		words   string
	}{
		{"with a body limit above it is 400 naming the data", 16 << 20, http.StatusBadRequest, "inputs[0].data has more than 784 values"},
		{"with the default body limit it is 413", 0, http.StatusRequestEntityTooLarge, "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve.New(serve.Config{MaxBody: tc.maxBody}, st, nil)
			t.Cleanup(srv.Close)
			srv.SetModel(&digitModel{version: servedVersion})
			c := &restClient{tb: t, srv: srv}
			rec := c.do(http.MethodPost, "/v2/models/mnist/infer", http.Header{"Content-Type": {"application/json"}}, []byte(body))
			if rec.Code != tc.status || !bytes.Contains(rec.Body.Bytes(), []byte(tc.words)) {
				t.Errorf("status %d %s, want %d saying %q", rec.Code, rec.Body, tc.status, tc.words)
			}
		})
	}
}

func TestRESTBinaryOutputs(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		c := &restClient{tb: t, srv: newServer(t, st, false)}
		for _, tc := range []struct {
			name    string
			outputs []string
		}{
			{"binary_data_output asks for every output as binary", nil},
			{"binary_data on a requested output answers it as binary", []string{"prediction"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req := oneImage("FP32", []int64{1, 784}, 6)
				req.Binary, req.BinOut, req.Outputs = true, true, tc.outputs
				res, err := c.Infer("mnist", "", req)
				if err != nil {
					t.Fatal(err)
				}
				want := tc.outputs
				if want == nil {
					want = []string{"probabilities", "prediction"}
				}
				checkOutputs(t, res, []byte{6}, want, true)
			})
		}
	})
}

func TestRESTUnsupportedContentTypeIs415(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	c := &restClient{tb: t, srv: newServer(t, st, false)}
	rec := c.do(http.MethodPost, "/v2/models/mnist/infer", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte("a=b"))
	if rec.Code != http.StatusUnsupportedMediaType {
		t.Errorf("status %d %s, want 415", rec.Code, rec.Body)
	}
}

// TestRESTAnEmptyVersionIsNotTheServedModel: a path of /versions// names no
// version: 404, not the served model's answer.
func TestRESTAnEmptyVersionIsNotTheServedModel(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	c := &restClient{tb: t, srv: newServer(t, st, false)}
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/v2/models/mnist/versions//ready"},
		{http.MethodPost, "/v2/models/mnist/versions//infer"},
	} {
		body := []byte(`{"inputs":[{"name":"image","datatype":"UINT8","shape":[1,784],"data":` + pixelsJSON() + `}]}`)
		rec := c.do(tc.method, tc.path, http.Header{"Content-Type": {"application/json"}}, body)
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s %s: %d %s, want 404", tc.method, tc.path, rec.Code, rec.Body)
			continue
		}
		wantKind(t, restError(t, rec), notFound, "empty model version")
	}
	if n := countRows(t, st); n != 0 {
		t.Errorf("%d rows stored, want 0", n)
	}
}
