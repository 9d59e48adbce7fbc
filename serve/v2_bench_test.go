package serve

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkV2InferRoute is BenchmarkPredictRoute for POST
// /v2/models/mnist/infer, beside /predict's for the ratio: each posts one
// image in the body scripts/load-oip.sh sends (v2: UINT8, flat; /predict:
// 28 rows; both written as Python's json.dumps writes them) through the
// whole Echo chain, with a fake model and a store that keeps nothing.
// Besides the wall time it reports the process's CPU time per request
// (cpu-us/op), which a shared machine disturbs less.
//
//	go test -run '^$' -bench V2InferRoute -benchmem ./serve/
func BenchmarkV2InferRoute(b *testing.B) {
	for _, r := range []struct{ name, path string }{
		{"v2-json", "/v2/models/mnist/infer"},
		{"predict", "/predict"},
	} {
		b.Run(r.name, func(b *testing.B) {
			body := v2Body(digitImage(7))
			if r.name == "predict" {
				compact := string(mustJSON(b, map[string]any{"image": rows(digitImage(7))}))
				body = []byte(strings.NewReplacer(",", ", ", ":", ": ").Replace(compact))
			}
			s := New(Config{}, &memStore{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			b.Cleanup(s.Close)
			s.SetModel(&fakeModel{version: "20261202T025000.415Z"})
			b.ReportAllocs()
			cpu := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodPost, r.path, bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					rec := httptest.NewRecorder()
					s.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Errorf("status %d: %s", rec.Code, rec.Body) // not Fatal: this is not the benchmark's goroutine
						return
					}
				}
			})
			b.ReportMetric(float64(processCPU()-cpu)/1e3/float64(b.N), "cpu-us/op")
		})
	}
}
