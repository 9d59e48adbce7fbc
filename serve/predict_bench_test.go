package serve

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/mnistserve/app/store"
)

// memStore is a Store that numbers the rows it is given and keeps nothing,
// so that a benchmark sees the serving path without a database.
type memStore struct {
	errStore
	last atomic.Int64
}

func (m *memStore) Create(_ context.Context, ps []*store.Prediction) error {
	for _, p := range ps {
		p.ID = m.last.Add(1)
	}
	return nil
}

// BenchmarkPredictRoute sends POST /predict with the original body through
// the whole Echo chain (request id, access log formatted as serve does it
// and thrown away, metrics, deadline, headers, decode, batcher, answer),
// with a fake model and a store that keeps nothing: the serving path's own
// CPU and allocations per request, sockets and database aside.
//
//	go test -run '^$' -bench PredictRoute -benchmem ./serve/
func BenchmarkPredictRoute(b *testing.B) {
	s := New(Config{}, &memStore{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	b.Cleanup(s.Close)
	benchPredict(b, s, nil)
}

// BenchmarkPredictRouteKeyed is BenchmarkPredictRoute with a fresh
// Idempotency-Key on every request: what a key costs the server itself
// (header, claim, digests, the extra fields), the database aside.
//
//	go test -run '^$' -bench 'PredictRoute(Keyed)?$' -benchmem ./serve/
func BenchmarkPredictRouteKeyed(b *testing.B) {
	s := New(Config{}, &memStore{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	b.Cleanup(s.Close)
	var n atomic.Int64
	benchPredict(b, s, func(r *http.Request) {
		r.Header.Set(headerIdempotencyKey, "bench-"+strconv.FormatInt(n.Add(1), 10))
	})
}

// benchPredict posts /predict to s from parallel clients, each request
// passed through prepare (nil: none) first, and reports the process's CPU time per request
// beside the wall time (on a shared machine the steadier of the two).
func benchPredict(b *testing.B, s *Server, prepare func(*http.Request)) {
	benchPost(b, s, "/predict", mustJSON(b, map[string]any{"image": rows(digitImage(7))}), prepare)
}

// benchPost is benchPredict for any JSON body posted to path.
func benchPost(b *testing.B, s *Server, path string, body []byte, prepare func(*http.Request)) {
	s.SetModel(&fakeModel{version: "20261202T025000.415Z"})
	request := func() *http.Request {
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if prepare != nil {
			prepare(req)
		}
		return req
	}
	b.ReportAllocs()
	cpu := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, request())
			if rec.Code != http.StatusOK {
				b.Errorf("status %d: %s", rec.Code, rec.Body) // not Fatal: this is not the benchmark's goroutine
				return
			}
		}
	})
	b.ReportMetric(float64(processCPU()-cpu)/1e3/float64(b.N), "cpu-us/op")
	// One more answer, outside the measure, checked against the document.
	b.StopTimer()
	req, rec := request(), httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if err := checkAnswer(b, req, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
		b.Error(err)
	}
}
