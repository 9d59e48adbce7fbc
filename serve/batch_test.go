package serve

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// postConcurrently sends n /predict requests at once, image i showing digit
// i%10, and returns the recorded answers in order.
func postConcurrently(tb testing.TB, s *Server, n int) []*httptest.ResponseRecorder {
	tb.Helper()
	recs := make([]*httptest.ResponseRecorder, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		body := mustJSON(tb, map[string]any{"image": rows(digitImage(i % 10))})
		wg.Go(func() {
			<-start
			recs[i] = do(tb, s, http.MethodPost, "/predict", "application/json", body)
		})
	}
	close(start)
	wg.Wait()
	return recs
}

func TestConcurrentRequestsShareModelCallsUpToMaxBatch(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		const n, maxBatch = 40, 8
		m := &fakeModel{version: "v", delay: 50 * time.Millisecond}
		s := New(Config{MaxBatch: maxBatch}, st, nil)
		t.Cleanup(s.Close)
		s.SetModel(m)
		recs := postConcurrently(t, s, n)
		seen := map[int64]bool{}
		for i, rec := range recs {
			var p prediction
			decode(t, rec, http.StatusOK, &p)
			if p.Prediction != i%10 || seen[p.ID] {
				t.Errorf("request %d got %+v: another request's answer or a repeated id", i, p)
			}
			seen[p.ID] = true
		}
		if got := count(t, st); got != n {
			t.Errorf("%d rows stored, want %d", got, n)
		}
		// Calls are at least n/maxBatch; well under n means requests shared them.
		if calls := m.calls.Load(); calls >= n/2 || m.largest.Load() > maxBatch || m.images.Load() != n {
			t.Errorf("%d model calls for %d requests, largest %d images, %d images in all; want batches of at most %d",
				calls, n, m.largest.Load(), m.images.Load(), maxBatch)
		}
		text := do(t, s, http.MethodGet, "/metrics", "", nil).Body.String()
		for _, want := range []string{"model_batch_size_sum 40", "predict_queue_wait_seconds_count 40", "predict_queue_depth 0"} {
			if !strings.Contains(text, want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
	})
}

func TestFullQueueAnswers503WithRetryAfterAtOnce(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	const n, queue = 12, 3
	m := &fakeModel{version: "v", delay: time.Second}
	s := New(Config{QueueLength: queue}, st, nil)
	t.Cleanup(s.Close)
	s.SetModel(m)
	start := time.Now()
	recs := postConcurrently(t, s, n)
	ok, busy := 0, 0
	for i, rec := range recs {
		switch rec.Code {
		case http.StatusOK:
			ok++
		case http.StatusServiceUnavailable:
			busy++
			if msg := errorOf(t, rec, http.StatusServiceUnavailable); !strings.Contains(msg, "busy") {
				t.Errorf("request %d: 503 error %q, want it to say the server is busy", i, msg)
			}
			if ra := rec.Header().Get("Retry-After"); ra != "1" {
				t.Errorf("request %d: Retry-After %q, want 1", i, ra)
			}
			if c := rec.Header().Get("Connection"); c != "close" {
				t.Errorf("request %d: Connection %q, want close", i, c)
			}
		default:
			t.Errorf("request %d: status %d, want 200 or 503", i, rec.Code)
		}
	}
	if ok < 1 || ok > queue || busy < n-2*queue {
		t.Errorf("%d answered, %d refused; want at most %d admitted at once and the rest refused", ok, busy, queue)
	}
	if got := count(t, st); got != int64(ok) {
		t.Errorf("%d rows stored for %d 200s", got, ok)
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("took %v: refused requests must not wait for the queue", took)
	}
	if !strings.Contains(do(t, s, http.MethodGet, "/metrics", "", nil).Body.String(), `route="/predict",status="503"`) {
		t.Error("/metrics does not count the 503s")
	}
}

func TestModelPanicInABatchFailsOnlyThatBatch(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, &fakeModel{version: "v", panics: true})
	if msg := errorOf(t, do(t, s, http.MethodPost, "/predict", "application/json", validBody(t)), 500); msg != "internal server error" {
		t.Errorf("error %q", msg)
	}
	s.SetModel(&fakeModel{version: "fixed"})
	var p prediction
	decode(t, do(t, s, http.MethodPost, "/predict", "application/json", validBody(t)), 200, &p)
	if p.ModelVersion != "fixed" || count(t, st) != 1 {
		t.Errorf("after the panic: %+v, %d rows; want the batcher still working", p, count(t, st))
	}
}
