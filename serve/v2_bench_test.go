package serve

import (
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkV2InferRoute is BenchmarkPredictRoute for POST
// /v2/models/mnist/infer, beside /predict's for the ratio: each posts one
// image in the body scripts/load-oip.sh sends (v2: UINT8, flat, in JSON or
// as binary tensor data after a JSON header; /predict:
// 28 rows; both written as Python's json.dumps writes them) through the
// whole Echo chain, with a fake model and a store that keeps nothing.
// Besides the wall time it reports the process's CPU time per request
// (cpu-us/op), which a shared machine disturbs less.
//
//	go test -run '^$' -bench V2InferRoute -benchmem ./serve/
func BenchmarkV2InferRoute(b *testing.B) {
	compact := string(mustJSON(b, map[string]any{"image": rows(digitImage(7))}))
	head := `{"inputs": [{"name": "image", "datatype": "UINT8", "shape": [1, 784], "parameters": {"binary_data_size": 784}}]}`
	binary := func(r *http.Request) {
		r.Header.Set(headerInferLength, strconv.Itoa(len(head)))
		r.Header.Set("Content-Type", "application/octet-stream")
	}
	for _, r := range []struct {
		name, path string
		body       []byte
		prepare    func(*http.Request)
	}{
		{"v2-json", "/v2/models/mnist/infer", v2Body(digitImage(7)), nil},
		{"v2-binary", "/v2/models/mnist/infer", append([]byte(head), digitImage(7)...), binary},
		{"predict", "/predict", []byte(strings.NewReplacer(",", ", ", ":", ": ").Replace(compact)), nil},
	} {
		b.Run(r.name, func(b *testing.B) {
			s := New(Config{}, &memStore{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			b.Cleanup(s.Close)
			benchPost(b, s, r.path, r.body, r.prepare)
		})
	}
}
