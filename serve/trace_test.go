package serve

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mnistserve/app/pipeline"
	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
	"github.com/mnistserve/app/tracing"
)

// A caller's trace: the W3C example ids, sampled.
const (
	callerTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan   = "00f067aa0ba902b7"
	callerParent = "00-" + callerTrace + "-" + callerSpan + "-01"
)

// tracedServer returns a server on st with m served whose every span goes
// to the returned in-memory exporter as it ends, and whose group commits
// are traced too. logs, when not nil, receives its log.
func tracedServer(tb testing.TB, cfg Config, st *store.Store, m Model, logs *bytes.Buffer) (*Server, *tracetest.InMemoryExporter) {
	tb.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tb.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	cfg.Tracing = tp
	logger := slogTo(new(bytes.Buffer))
	if logs != nil {
		logger = slogTo(logs)
	}
	s := New(cfg, st, logger)
	tb.Cleanup(s.Close)
	st.OnCommit(s.ObserveCommit)
	s.SetModel(m)
	return s, exp
}

// predictRequest is POST /predict of digit d, with traceparent when not empty.
func predictRequest(tb testing.TB, d int, traceparent string) *http.Request {
	tb.Helper()
	req := httptest.NewRequest(http.MethodPost, "/predict", bytes.NewReader(mustJSON(tb, map[string]any{"image": rows(digitImage(d))})))
	req.Header.Set("Content-Type", "application/json")
	if traceparent != "" {
		req.Header.Set("traceparent", traceparent)
	}
	return req
}

// spans is what an exporter holds, with the lookups the tests need.
type spans tracetest.SpanStubs

// named returns the spans called name.
func (ss spans) named(name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range ss {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// one returns the only span called name, failing unless there is exactly one.
func (ss spans) one(tb testing.TB, name string) tracetest.SpanStub {
	tb.Helper()
	got := ss.named(name)
	if len(got) != 1 {
		tb.Fatalf("%d spans named %s, want 1; spans: %v", len(got), name, ss.names())
	}
	return got[0]
}

// childrenOf returns the names of the spans whose parent is sc, sorted.
func (ss spans) childrenOf(sc trace.SpanContext) []string {
	var out []string
	for _, s := range ss {
		if s.Parent.SpanID() == sc.SpanID() && s.Parent.TraceID() == sc.TraceID() {
			out = append(out, s.Name)
		}
	}
	slices.Sort(out)
	return out
}

// names lists every span's name, for failure messages.
func (ss spans) names() []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out
}

// linksTo reports whether s links to sc.
func linksTo(s tracetest.SpanStub, sc trace.SpanContext) bool {
	for _, l := range s.Links {
		if l.SpanContext.SpanID() == sc.SpanID() && l.SpanContext.TraceID() == sc.TraceID() {
			return true
		}
	}
	return false
}

// attr returns the value of attribute key of s.
func attr(s tracetest.SpanStub, key string) attribute.Value {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// childSpans are the children of a /predict request's server span.
var childSpans = []string{pipeline.SpanAdmit, pipeline.SpanCommit, pipeline.SpanModel, pipeline.SpanQueue}

func TestTraceOfOneRequest(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		var logs bytes.Buffer
		s, exp := tracedServer(t, Config{}, st, &fakeModel{version: "v1"}, &logs)
		rec := serveHTTP(t, s, predictRequest(t, 4, callerParent))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		ss := spans(exp.GetSpans())
		server := ss.one(t, "POST /predict")

		t.Run("the server span continues the caller's trace", func(t *testing.T) {
			if got := server.SpanContext.TraceID().String(); got != callerTrace {
				t.Errorf("trace id %s, want the caller's %s", got, callerTrace)
			}
			if got := server.Parent.SpanID().String(); got != callerSpan || !server.Parent.IsRemote() {
				t.Errorf("parent %s (remote %v), want the caller's span %s", got, server.Parent.IsRemote(), callerSpan)
			}
			if server.SpanKind != trace.SpanKindServer || attr(server, "http.response.status_code").AsInt64() != 200 {
				t.Errorf("kind %v, status attribute %v; want a server span of a 200", server.SpanKind, attr(server, "http.response.status_code"))
			}
		})
		t.Run("the answer and the log line name the trace", func(t *testing.T) {
			want := "00-" + callerTrace + "-" + server.SpanContext.SpanID().String() + "-01"
			if got := rec.Header().Get("traceresponse"); got != want {
				t.Errorf("traceresponse %q, want %q", got, want)
			}
			if !strings.Contains(logs.String(), "trace_id="+callerTrace) {
				t.Errorf("no trace_id=%s in the log:\n%s", callerTrace, logs.String())
			}
		})
		t.Run("admission, queue, model and commit are its children, in that order", func(t *testing.T) {
			if got := ss.childrenOf(server.SpanContext); strings.Join(got, ",") != strings.Join(childSpans, ",") {
				t.Fatalf("children %v, want %v", got, childSpans)
			}
			order := []tracetest.SpanStub{ss.one(t, pipeline.SpanAdmit), ss.one(t, pipeline.SpanQueue), ss.one(t, pipeline.SpanModel), ss.one(t, pipeline.SpanCommit)}
			for i := 1; i < len(order); i++ {
				if order[i].StartTime.Before(order[i-1].EndTime) {
					t.Errorf("%s starts at %v, before %s ends at %v", order[i].Name, order[i].StartTime, order[i-1].Name, order[i-1].EndTime)
				}
			}
			for _, c := range order {
				if c.EndTime.After(server.EndTime) || c.Status.Code == codes.Error {
					t.Errorf("%s: ends after its parent, or failed (%v)", c.Name, c.Status)
				}
			}
		})
		t.Run("a model call of one request alone is its model span, and the group commit links to it", func(t *testing.T) {
			model := ss.one(t, pipeline.SpanModel)
			if n := len(ss.named(pipeline.SpanBatch)); n != 0 || len(model.Links) != 0 {
				t.Errorf("%d batch spans, model span links %v: want none for a request alone", n, model.Links)
			}
			if attr(model, "pipeline.batch.requests").AsInt64() != 1 || attr(model, "pipeline.batch.images").AsInt64() != 1 ||
				attr(model, "model.version").AsString() != "v1" {
				t.Errorf("model span attributes %v, want the batch's: 1 request, 1 image, model v1", model.Attributes)
			}
			commit := ss.one(t, SpanCommit)
			if commit.Parent.IsValid() || !linksTo(commit, ss.one(t, pipeline.SpanCommit).SpanContext) || attr(commit, "store.commit.rows").AsInt64() != 1 {
				t.Errorf("group commit span: parent %v, links %v, attributes %v: want a root of 1 row linked to the request's commit",
					commit.Parent.SpanID(), commit.Links, commit.Attributes)
			}
		})
	})
}

func TestTraceOfConcurrentRequests(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	// One batcher, and a model slow enough that the requests sent while it
	// runs the first one wait and go together in the next batch.
	procs := runtime.GOMAXPROCS(1)
	s, exp := tracedServer(t, Config{}, st, &fakeModel{version: "v1", delay: 100 * time.Millisecond}, nil)
	runtime.GOMAXPROCS(procs)

	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			rec := serveHTTP(t, s, predictRequest(t, i, ""))
			if rec.Code != http.StatusOK {
				t.Errorf("request %d: status %d: %s", i, rec.Code, rec.Body)
			}
		})
	}
	wg.Wait()
	ss := spans(exp.GetSpans())
	servers := ss.named("POST /predict")
	if len(servers) != n {
		t.Fatalf("%d server spans for %d requests", len(servers), n)
	}
	// The first request usually runs alone (its model span is the model
	// call's); the others wait for it and go together, in batches of
	// several requests with a span each, linked both ways.
	batches, commits := ss.named(pipeline.SpanBatch), ss.named(SpanCommit)
	if len(batches) < 1 || len(batches) > n/2 {
		t.Errorf("%d batch spans for %d requests on one batcher, want batches of several requests", len(batches), n)
	}
	alone, batched := 0, 0
	for _, server := range servers {
		var by []tracetest.SpanStub
		for _, b := range batches {
			if linksTo(b, server.SpanContext) {
				by = append(by, b)
			}
		}
		if len(by) > 1 {
			t.Errorf("request %s: linked by %d batch spans, want 1", server.SpanContext.TraceID(), len(by))
			continue
		}
		var model, commit *tracetest.SpanStub
		for i, sp := range ss {
			if sp.Parent.SpanID() == server.SpanContext.SpanID() {
				switch sp.Name {
				case pipeline.SpanModel:
					model = &ss[i]
				case pipeline.SpanCommit:
					commit = &ss[i]
				}
			}
		}
		switch {
		case model == nil:
			t.Errorf("request %s: no model span", server.SpanContext.TraceID())
		case len(by) == 0:
			alone++
			if len(model.Links) != 0 || attr(*model, "pipeline.batch.requests").AsInt64() != 1 {
				t.Errorf("request %s: in no batch span, but its model span has links %v and attributes %v, not a lone model call's",
					server.SpanContext.TraceID(), model.Links, model.Attributes)
			}
		case !linksTo(*model, by[0].SpanContext) || attr(by[0], "pipeline.batch.requests").AsInt64() < 2:
			t.Errorf("request %s: its model span does not link to the batch of several that served it", server.SpanContext.TraceID())
		default:
			batched++
		}
		written := 0
		for _, c := range commits {
			if commit != nil && linksTo(c, commit.SpanContext) {
				written++
			}
		}
		if written != 1 {
			t.Errorf("request %s: its commit span is linked by %d group commits, want 1", server.SpanContext.TraceID(), written)
		}
	}
	if alone+batched != n {
		t.Errorf("%d requests alone and %d in batch spans, for %d requests", alone, batched, n)
	}
}

func TestTraceOfRefusedRequests(t *testing.T) {
	ring, _ := keyring(t)
	for _, tc := range []struct {
		name   string
		cfg    Config
		before func(tb testing.TB, s *Server) // what makes the request refused
		status int
		admit  bool // a pipeline.admit span records the refusal
	}{
		{"a full queue answers 503 at admission", Config{QueueLength: 1}, func(tb testing.TB, s *Server) {
			release, err := s.admit(context.Background()) // the only slot
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(release)
		}, http.StatusServiceUnavailable, true},
		{"the rate limit answers 429", Config{Rate: 0.001, Burst: 1}, func(tb testing.TB, s *Server) {
			if rec := serveHTTP(tb, s, predictRequest(tb, 1, "")); rec.Code != http.StatusOK {
				tb.Fatalf("first request: %d", rec.Code)
			}
		}, http.StatusTooManyRequests, false},
		{"no token answers 401", Config{Keys: ring}, nil, http.StatusUnauthorized, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := storetest.Open(t, "sqlite")
			s, exp := tracedServer(t, tc.cfg, st, &fakeModel{version: "v1"}, nil)
			if tc.before != nil {
				tc.before(t, s)
			}
			exp.Reset()
			rec := serveHTTP(t, s, predictRequest(t, 2, callerParent))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			ss := spans(exp.GetSpans())
			server := ss.one(t, "POST /predict")
			if server.Status.Code != codes.Error || attr(server, "http.response.status_code").AsInt64() != int64(tc.status) ||
				server.SpanContext.TraceID().String() != callerTrace {
				t.Errorf("server span: status %v, attributes %v, trace %s: want an error of %d in the caller's trace",
					server.Status, server.Attributes, server.SpanContext.TraceID(), tc.status)
			}
			if !strings.HasPrefix(rec.Header().Get("traceresponse"), "00-"+callerTrace+"-") {
				t.Errorf("traceresponse %q, want the caller's trace", rec.Header().Get("traceresponse"))
			}
			want := []string(nil)
			if tc.admit {
				want = []string{pipeline.SpanAdmit}
				if a := ss.one(t, pipeline.SpanAdmit); a.Status.Code != codes.Error || !strings.Contains(a.Status.Description, "busy") {
					t.Errorf("admission span status %v, want an error saying the server is busy", a.Status)
				}
			}
			if got := ss.childrenOf(server.SpanContext); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("children %v, want %v", got, want)
			}
		})
	}
}

func TestTraceExemplarsInTheLatencyHistograms(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s, _ := tracedServer(t, Config{}, st, &fakeModel{version: "v1"}, nil)
	const unsampled = "11111111111111111111111111111111"
	for _, tp := range []string{callerParent, "00-" + unsampled + "-" + callerSpan + "-00"} {
		if rec := serveHTTP(t, s, predictRequest(t, 5, tp)); rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	rec := serveHTTP(t, s, req)
	text := rec.Body.String()
	for _, series := range []string{`http_request_duration_seconds_bucket{route="/predict",`, `predict_admitted_duration_seconds_bucket{`} {
		found := false
		for line := range strings.SplitSeq(text, "\n") {
			if strings.HasPrefix(line, series) && strings.Contains(line, `# {trace_id="`+callerTrace+`"}`) {
				found = true
			}
		}
		if !found {
			t.Errorf("no bucket of %s carries the exemplar trace_id %s", series, callerTrace)
		}
	}
	if strings.Contains(text, unsampled) {
		t.Errorf("the unsampled request's trace id is an exemplar:\n%s", text)
	}
}

func TestNoTracingNoTraceHeaderNorTraceID(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	var logs bytes.Buffer
	s := New(Config{}, st, slogTo(&logs))
	t.Cleanup(s.Close)
	s.SetModel(&fakeModel{version: "v1"})
	rec := serveHTTP(t, s, predictRequest(t, 3, callerParent))
	if rec.Code != http.StatusOK || rec.Header().Get("traceresponse") != "" {
		t.Errorf("status %d, traceresponse %q: want 200 and no header", rec.Code, rec.Header().Get("traceresponse"))
	}
	if strings.Contains(logs.String(), "trace_id") || !strings.Contains(logs.String(), "route=/predict") {
		t.Errorf("want the request's log line without a trace id:\n%s", logs.String())
	}
}

// BenchmarkPredictRouteTraced is BenchmarkPredictRoute with every request
// traced, its spans batched to an exporter that drops them: the CPU and
// allocations that making and batching the spans add to a request.
//
//	go test -run '^$' -bench 'PredictRoute' -benchmem ./serve/
func BenchmarkPredictRouteTraced(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(dropExporter{}))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	s := New(Config{Tracing: tp}, &memStore{}, slogTo(io.Discard))
	b.Cleanup(s.Close)
	benchPredict(b, s, func(r *http.Request) { r.Header.Set("Traceparent", callerParent) })
}

// BenchmarkPredictRouteExported is BenchmarkPredictRouteTraced with the
// spans exported as `app serve` exports them (tracing.FromEnv, OTLP/HTTP)
// to a receiver in the same process that reads each export and drops it:
// the whole CPU of tracing on, the receiver's reading included.
//
//	go test -run '^$' -bench 'PredictRoute' -benchmem ./serve/
func BenchmarkPredictRouteExported(b *testing.B) {
	var exports atomic.Int64
	rx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		exports.Add(1)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer rx.Close()
	b.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rx.URL)
	b.Setenv("OTEL_TRACES_SAMPLER", "always_on")
	tp, err := tracing.FromEnv(context.Background(), "app", "bench")
	if err != nil || tp == nil {
		b.Fatalf("tracing.FromEnv: %v, %v", tp, err)
	}
	s := New(Config{Tracing: tp}, &memStore{}, slogTo(io.Discard))
	b.Cleanup(s.Close)
	benchPredict(b, s, func(r *http.Request) { r.Header.Set("Traceparent", callerParent) })
	b.StopTimer()
	if err := tp.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	if exports.Load() == 0 {
		b.Fatal("no span exported")
	}
}

// dropExporter takes spans and keeps none.
type dropExporter struct{}

func (dropExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (dropExporter) Shutdown(context.Context) error                             { return nil }

func TestExemplarsArePaced(t *testing.T) {
	var g exemplarGate
	if !g.open() || g.open() {
		t.Fatal("want the first exemplar let through and the next one, at once after, held back")
	}
	g.next.Store(time.Now().Add(-time.Millisecond).UnixNano()) // exemplarEvery has passed
	if !g.open() {
		t.Error("an exemplar held back once exemplarEvery had passed")
	}
}
