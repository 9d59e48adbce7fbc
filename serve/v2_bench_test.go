package serve

import (
	"io"
	"log/slog"
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
	compact := string(mustJSON(b, map[string]any{"image": rows(digitImage(7))}))
	for _, r := range []struct {
		name, path string
		body       []byte
	}{
		{"v2-json", "/v2/models/mnist/infer", v2Body(digitImage(7))},
		{"predict", "/predict", []byte(strings.NewReplacer(",", ", ", ":", ": ").Replace(compact))},
	} {
		b.Run(r.name, func(b *testing.B) {
			s := New(Config{}, &memStore{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			b.Cleanup(s.Close)
			benchPost(b, s, r.path, r.body, nil)
		})
	}
}
