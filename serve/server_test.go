package serve

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
	"github.com/mnistserve/app/web"
)

func validBody(t *testing.T) []byte {
	return mustJSON(t, map[string]any{"image": rows(digitImage(8))})
}

func TestReadyzSaysTrainingGoesOnWhileACheckpointIsServed(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, &fakeModel{version: "early", checkpoint: &model.Checkpoint{Epoch: 2, Epochs: 15}})
	var r readiness
	decode(t, do(t, s, http.MethodGet, "/readyz", "", nil), 200, &r)
	if r.Training == nil || *r.Training != (training{Epoch: 2, Epochs: 15, ValAccuracy: 0.987}) {
		t.Errorf("/readyz = %+v, want the checkpoint's epoch 2 of 15 at val accuracy 0.987", r)
	}
	var meta model.Meta
	decode(t, do(t, s, http.MethodGet, "/model", "", nil), 200, &meta)
	if meta.Checkpoint == nil || *meta.Checkpoint != (model.Checkpoint{Epoch: 2, Epochs: 15}) {
		t.Errorf("/model = %+v, want it marked a checkpoint of epoch 2 of 15", meta)
	}
}

func TestNotReadyUntilAModelIsSet(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, nil)
	s.SetStatus("model is training (epoch 3/15)")

	for _, target := range []string{"/readyz", "/model"} {
		if msg := errorOf(t, do(t, s, http.MethodGet, target, "", nil), 503); msg != "model is training (epoch 3/15)" {
			t.Errorf("%s: error %q, want the training status", target, msg)
		}
	}
	if msg := errorOf(t, do(t, s, http.MethodPost, "/predict", "application/json", validBody(t)), 503); !strings.Contains(msg, "training") {
		t.Errorf("/predict: error %q, want it to say training is under way", msg)
	}
	if n := count(t, st); n != 0 {
		t.Errorf("%d rows stored while not ready", n)
	}
	var h map[string]string
	decode(t, do(t, s, http.MethodGet, "/healthz", "", nil), 200, &h)
	if h["status"] != "ok" {
		t.Errorf("/healthz = %v, want status ok", h)
	}

	s.SetModel(&fakeModel{version: "fresh"})
	var r readiness
	decode(t, do(t, s, http.MethodGet, "/readyz", "", nil), 200, &r)
	if r.Status != "ready" || r.ModelVersion != "fresh" || r.Training != nil {
		t.Errorf("/readyz = %+v, want ready with model fresh, its training done", r)
	}
	var meta model.Meta
	decode(t, do(t, s, http.MethodGet, "/model", "", nil), 200, &meta)
	if meta.Version != "fresh" || meta.Architecture != "fake" {
		t.Errorf("/model = %+v, want the fake's metadata", meta)
	}
	var p prediction
	decode(t, do(t, s, http.MethodPost, "/predict", "application/json", validBody(t)), 200, &p)
	if p.ModelVersion != "fresh" || p.Prediction != 8 {
		t.Errorf("answer %+v, want digit 8 from model fresh", p)
	}

	// A swapped-in model answers the next request.
	s.SetModel(&fakeModel{version: "newer"})
	decode(t, do(t, s, http.MethodPost, "/predict", "application/json", validBody(t)), 200, &p)
	if p.ModelVersion != "newer" {
		t.Errorf("after swap model_version %q, want newer", p.ModelVersion)
	}
}

func TestUnavailableDatabaseIs503(t *testing.T) {
	closed := func(kind string) func(t *testing.T) Store {
		return func(t *testing.T) Store {
			st, _ := storetest.Open(t, kind)
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			return st
		}
	}
	stores := []struct {
		name string
		open func(t *testing.T) Store
	}{
		{"a fake store failing with ErrUnavailable", func(*testing.T) Store {
			return errStore{err: fmt.Errorf("create predictions: %w: dial tcp 127.0.0.1:1: connection refused", store.ErrUnavailable)}
		}},
		{"a closed SQLite store", closed("sqlite")},
		{"a closed PostgreSQL store", closed("postgres")},
	}
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			s := newServer(t, sc.open(t), &fakeModel{version: "v"})
			requests := []struct{ method, target string }{
				{http.MethodPost, "/predict"},
				{http.MethodPost, "/predict/batch"},
				{http.MethodGet, "/predictions"},
				{http.MethodGet, "/predictions/1"},
				{http.MethodGet, "/readyz"},
			}
			for _, r := range requests {
				body := validBody(t)
				if r.target == "/predict/batch" {
					body = mustJSON(t, map[string]any{"images": [][]int{flat(digitImage(1))}})
				}
				msg := errorOf(t, do(t, s, r.method, r.target, "application/json", body), 503)
				if !strings.Contains(msg, "database") {
					t.Errorf("%s %s: error %q, want it to name the database", r.method, r.target, msg)
				}
			}
			decode(t, do(t, s, http.MethodGet, "/healthz", "", nil), 200, &map[string]string{})
		})
	}
}

func TestHungDatabaseAnswers503WithinTheTimeout(t *testing.T) {
	s := New(Config{Timeout: 200 * time.Millisecond, ReadyTimeout: 100 * time.Millisecond}, errStore{block: true}, nil)
	s.SetModel(&fakeModel{version: "v"})
	for _, r := range []struct{ method, target, want string }{
		{http.MethodPost, "/predict", "timed out after 200ms"},
		{http.MethodGet, "/predictions", "timed out after 200ms"},
		{http.MethodGet, "/readyz", "database unavailable"},
	} {
		start := time.Now()
		msg := errorOf(t, do(t, s, r.method, r.target, "application/json", validBody(t)), 503)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%s %s took %v, want about the timeout", r.method, r.target, took)
		}
		if !strings.Contains(msg, r.want) {
			t.Errorf("%s %s: error %q, want %q", r.method, r.target, msg, r.want)
		}
	}
}

func TestPanicIsA500WithoutDetail(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	var logs bytes.Buffer
	s := New(Config{}, st, slogTo(&logs))
	s.SetModel(&fakeModel{version: "v", panics: true})
	rec := do(t, s, http.MethodPost, "/predict", "application/json", validBody(t))
	if msg := errorOf(t, rec, 500); msg != "internal server error" {
		t.Errorf("error %q, want the generic message", msg)
	}
	if strings.Contains(rec.Body.String(), "goroutine") || strings.Contains(rec.Body.String(), "exploded") {
		t.Errorf("response leaks the panic: %s", rec.Body.String())
	}
	if !strings.Contains(logs.String(), "fake model exploded") {
		t.Errorf("the panic is not in the log:\n%s", logs.String())
	}
	// The server is still there.
	decode(t, do(t, s, http.MethodGet, "/healthz", "", nil), 200, &map[string]string{})
}

func TestWrongMethodIs405JSON(t *testing.T) {
	s := newServer(t, errStore{}, &fakeModel{version: "v"})
	for _, r := range []struct{ method, target, allow string }{
		{http.MethodGet, "/predict", "POST"},
		{http.MethodPatch, "/predictions/1", "GET"},
		{http.MethodPut, "/healthz", "GET"},
	} {
		rec := do(t, s, r.method, r.target, "", nil)
		msg := errorOf(t, rec, 405)
		if !strings.Contains(msg, "method "+r.method+" is not allowed on "+r.target) {
			t.Errorf("%s %s: error %q", r.method, r.target, msg)
		}
		assertHeaderHas(t, rec, "Allow", r.allow)
	}
}

func TestBodyLimitHoldsWithoutContentLength(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := New(Config{MaxBody: 4096}, st, nil)
	s.SetModel(&fakeModel{version: "v"})
	// A chunked upload has no Content-Length: the limit must hold while reading.
	req := httptest.NewRequest(http.MethodPost, "/predict", io.MultiReader(strings.NewReader(`{"image": [`), strings.NewReader(strings.Repeat("0,", 5000)+"0]}")))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	rec := serveHTTP(t, s, req)
	if msg := errorOf(t, rec, 413); msg != "body is larger than the limit of 4 KiB" {
		t.Errorf("error %q", msg)
	}
	// And a body under a raised limit passes: 784 values take about 1.6 KB.
	decode(t, do(t, s, http.MethodPost, "/predict", "application/json", validBody(t)), 200, &prediction{})
}

func TestPagesAndProbes(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, &fakeModel{version: "v"})

	rec := do(t, s, http.MethodGet, "/", "", nil)
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), web.Index) || len(web.Index) == 0 {
		t.Errorf("GET / = %d, %d bytes; want 200 and web.Index", rec.Code, rec.Body.Len())
	}
	assertHeaderHas(t, rec, "Content-Type", "text/html")

	var w welcome
	decode(t, do(t, s, http.MethodGet, "/welcome", "", nil), 200, &w)
	if !strings.Contains(w.Message, "POST") || !strings.Contains(w.Message, "/predict") {
		t.Errorf("welcome %q does not say how to predict", w.Message)
	}

	rec = do(t, s, http.MethodGet, "/healthz", "", nil)
	if rid := rec.Header().Get("X-Request-ID"); len(rid) < 16 {
		t.Errorf("X-Request-ID %q, want a generated id", rid)
	}
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	req.Header.Set("X-Request-ID", "client-chose-this")
	rec = serveHTTP(t, s, req)
	if rid := rec.Header().Get("X-Request-ID"); rid != "client-chose-this" {
		t.Errorf("X-Request-ID %q, want the client's", rid)
	}
}

func TestMetricsCountByRouteNotPath(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, &fakeModel{version: "metrics-v"})
	p := postDigits(t, s, 3, 3, 7)
	do(t, s, http.MethodGet, "/predictions/"+itoa(p[0].ID), "", nil)
	do(t, s, http.MethodGet, "/predictions/"+itoa(p[1].ID), "", nil)
	do(t, s, http.MethodGet, "/secret-path-123", "", nil)
	do(t, s, http.MethodPost, "/predict", "application/json", []byte("{"))
	decode(t, do(t, s, http.MethodPost, "/predict/batch", "", mustJSON(t, map[string]any{"images": [][]int{flat(digitImage(1)), flat(digitImage(2))}})), 200, &batchAnswer{})

	rec := do(t, s, http.MethodGet, "/metrics", "", nil)
	if rec.Code != 200 {
		t.Fatalf("/metrics status %d", rec.Code)
	}
	text := rec.Body.String()
	for _, want := range []string{
		`http_requests_total{method="POST",route="/predict",status="200"} 3`,
		`http_requests_total{method="POST",route="/predict",status="400"} 1`,
		`http_requests_total{method="GET",route="/predictions/:id",status="200"} 2`,
		`http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`http_request_duration_seconds_count{route="/predict"} 4`,
		`predictions_total{digit="3"} 2`,
		`predictions_total{digit="7"} 1`,
		`predictions_total{digit="1"} 1`,
		`predictions_total{digit="0"} 0`,
		`prediction_batch_size_count 4`,
		`prediction_batch_size_sum 5`,
		`store_write_duration_seconds_count 4`,
		`model_info{version="metrics-v"} 1`,
		`model_loaded 1`,
		`go_goroutines`,
		`process_start_time_seconds`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(text, "secret-path-123") || strings.Contains(text, "/predictions/"+itoa(p[0].ID)) {
		t.Error("/metrics labels raw paths")
	}
	// Several servers in one process each have their own registry.
	other := newServer(t, st, nil)
	if strings.Contains(do(t, other, http.MethodGet, "/metrics", "", nil).Body.String(), `route="/predict"`) {
		t.Error("a second server sees the first one's series")
	}
}

// slogTo returns a text logger writing into w.
func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// A client that goes away while its prediction waits on the database is
// logged and counted as 499 (nginx's "client closed request") at INFO,
// not as a 503: the error-ratio alert counts 5xx as faults of ours.
func TestClientThatLeavesIs499NotA5xx(t *testing.T) {
	var logs syncBuffer
	s := New(Config{Timeout: 5 * time.Second, ReadyTimeout: 100 * time.Millisecond}, errStore{block: true}, slogTo(&logs))
	t.Cleanup(s.Close)
	s.SetModel(&fakeModel{version: "v"})
	// A real connection, which the client closes while the request waits
	// on the store: the server sees its request's context cancelled.
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/predict", bytes.NewReader(validBody(t)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the request was answered %s before the client left", resp.Status)
	}
	// The server logs the request once its handler returns.
	deadline := time.Now().Add(3 * time.Second)
	for !strings.Contains(logs.String(), "route=/predict") {
		if time.Now().After(deadline) {
			t.Fatal("the request outlived its client by 3 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	line := ""
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "msg=request") && strings.Contains(l, "route=/predict") {
			line = l
		}
	}
	if !strings.Contains(line, "status=499") || !strings.Contains(line, "level=INFO") {
		t.Errorf("log line %q, want status=499 at INFO", line)
	}
	metrics := do(t, s, http.MethodGet, "/metrics", "", nil).Body.String()
	if !strings.Contains(metrics, `http_requests_total{method="POST",route="/predict",status="499"} 1`) {
		t.Errorf("no 499 counted for /predict:\n%s", grepLines(metrics, "http_requests_total"))
	}
	if strings.Contains(metrics, `route="/predict",status="503"`) {
		t.Errorf("the client's leaving counted as a 503:\n%s", grepLines(metrics, "http_requests_total"))
	}
}
