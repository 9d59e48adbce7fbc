package serve

import (
	"context"
	"encoding/hex"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/mnistserve/app/store"
)

// Tracing, when Config.Tracing is set. Every request gets a server span
// named for its route ("POST /predict"), continuing the caller's W3C
// traceparent; the pipeline's spans hang under it (see pipeline/trace.go),
// and each group commit is a store.commit span linked to the requests
// whose rows it wrote. The answer carries the span in a traceresponse
// header (W3C Trace Context level 2), the request's log line its trace
// id, and the latency histograms the trace id as an exemplar when the
// request is sampled. Without Config.Tracing every step below stops at a
// nil check: no span, no header, no context.

// SpanCommit is the name of a group commit's span.
const SpanCommit = "store.commit"

// tracerName names the instrumentation in every span it makes.
const tracerName = "github.com/mnistserve/app"

// traceContext reads and writes W3C traceparent and tracestate headers.
var traceContext = propagation.TraceContext{}

// spanStart is the name and start options of a route's server spans,
// made once: joining the name and boxing the attribute list and the
// options anew cost 6 allocations a traced request (BENCHMARKS.md,
// "Tracing's cost").
type spanStart struct {
	name string
	opts []trace.SpanStartOption
}

// routeSpans returns the spanStart of each route by path and method, or
// nil without a tracer.
func routeSpans(tracer trace.Tracer, routes []*echo.Route) map[string]map[string]spanStart {
	if tracer == nil {
		return nil
	}
	out := make(map[string]map[string]spanStart)
	for _, r := range routes {
		if out[r.Path] == nil {
			out[r.Path] = make(map[string]spanStart)
		}
		out[r.Path][r.Method] = newSpanStart(r.Method, attribute.String("http.route", r.Path), " "+r.Path)
	}
	return out
}

// newSpanStart is the spanStart of a server span for method, naming where
// it went by where (http.route, or url.path for no route) and suffix (the
// route added to the span's name, or nothing).
func newSpanStart(method string, where attribute.KeyValue, suffix string) spanStart {
	return spanStart{name: method + suffix, opts: []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", method), where),
	}}
}

// spanStartOf is the spanStart of a request of method to route (Echo's
// path pattern) at path: the route table's, made once, or for no route,
// or a method the route has not, one made here.
func (s *Server) spanStartOf(method, route, path string) spanStart {
	if st, ok := s.spanStarts[route][method]; ok {
		return st
	}
	if s.known[route] {
		return newSpanStart(method, attribute.String("http.route", route), " "+route)
	}
	return newSpanStart(method, attribute.String("url.path", path), "")
}

// startSpan starts the server span of c's request and answers the
// traceresponse header; it returns the span and its trace id in hex, or
// nil and "" without tracing.
func (s *Server) startSpan(c echo.Context) (trace.Span, string) {
	if s.tracer == nil {
		return nil, ""
	}
	r := c.Request()
	ctx := traceContext.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	st := s.spanStartOf(r.Method, c.Path(), r.URL.Path)
	ctx, span := s.tracer.Start(ctx, st.name, st.opts...)
	c.SetRequest(r.WithContext(ctx))
	tr := traceResponse(span.SpanContext())
	// Set in its canonical form: Header.Set would canonicalise the name
	// anew on every request.
	c.Response().Header()["Traceresponse"] = []string{tr}
	return span, tr[3:35]
}

// endSpan ends a request's span with its status: every answer of 400 or
// more is an error, refusals (401, 429, 503) included, so that a search
// for failed spans finds the requests that were turned away too.
func endSpan(span trace.Span, status int, err error) {
	if span == nil {
		return
	}
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	if status >= http.StatusBadRequest {
		msg := http.StatusText(status)
		if err != nil {
			msg = err.Error()
		}
		span.SetStatus(codes.Error, msg)
	}
	span.End()
}

// traceResponse is the traceresponse header of sc: version, trace id,
// span id and flags, as traceparent writes them.
func traceResponse(sc trace.SpanContext) string {
	tid, sid, flags := sc.TraceID(), sc.SpanID(), sc.TraceFlags()
	var b [55]byte // 00-<32 hex>-<16 hex>-<2 hex>
	copy(b[:], "00-")
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:], []byte{byte(flags)})
	return string(b[:])
}

// exemplarEvery is the least time between two exemplars of one
// histogram. Prometheus keeps only the last exemplar of each bucket, and
// client_golang makes each one anew (a dozen allocations): one a request
// would cost more than the rest of the histogram's work.
const exemplarEvery = 10 * time.Millisecond

// exemplarGate lets an exemplar through at most every exemplarEvery.
type exemplarGate struct{ next atomic.Int64 }

// open reports whether an exemplar may be recorded now, and if so closes
// the gate for the next exemplarEvery.
func (g *exemplarGate) open() bool {
	now := time.Now().UnixNano()
	next := g.next.Load()
	return now >= next && g.next.CompareAndSwap(next, now+int64(exemplarEvery))
}

// observeLatency records seconds in h, with the trace id as an exemplar
// when sc is sampled and g is open.
func observeLatency(g *exemplarGate, h prometheus.Observer, seconds float64, sc trace.SpanContext) {
	if sc.IsSampled() && g.open() {
		if eo, ok := h.(prometheus.ExemplarObserver); ok {
			eo.ObserveWithExemplar(seconds, prometheus.Labels{"trace_id": sc.TraceID().String()})
			return
		}
	}
	h.Observe(seconds)
}

// spanContextOf is the span of ctx, or none without tracing (so that a
// server without tracing never looks it up).
func (s *Server) spanContextOf(ctx context.Context) trace.SpanContext {
	if s.tracer == nil {
		return trace.SpanContext{}
	}
	return trace.SpanContextFromContext(ctx)
}

// traceCommit records one group commit that has just ended as a span
// linked to the span of each Create call whose rows it held.
func (s *Server) traceCommit(cs store.CommitStats) {
	if s.tracer == nil {
		return
	}
	end := time.Now()
	links := make([]trace.Link, 0, len(cs.Callers))
	for _, ctx := range cs.Callers {
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	_, span := s.tracer.Start(context.Background(), SpanCommit,
		trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(end.Add(-cs.Duration)), trace.WithLinks(links...),
		trace.WithAttributes(attribute.Int("store.commit.calls", cs.Calls), attribute.Int("store.commit.rows", cs.Rows)))
	if cs.Err != nil {
		span.RecordError(cs.Err)
		span.SetStatus(codes.Error, cs.Err.Error())
	}
	span.End(trace.WithTimestamp(end))
}
