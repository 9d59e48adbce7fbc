package serve

import (
	"context"
	"net/http"
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

// startSpan starts the server span of c's request and answers the
// traceresponse header; nil without tracing.
func (s *Server) startSpan(c echo.Context) trace.Span {
	if s.tracer == nil {
		return nil
	}
	r := c.Request()
	ctx := traceContext.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	name := r.Method
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", r.Method),
		attribute.String("url.path", r.URL.Path),
	}
	if p := c.Path(); s.known[p] {
		name += " " + p
		attrs = append(attrs, attribute.String("http.route", p))
	}
	ctx, span := s.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
	c.SetRequest(r.WithContext(ctx))
	c.Response().Header().Set("traceresponse", traceResponse(span.SpanContext()))
	return span
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
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}

// observeLatency records seconds in h, with the trace id as an exemplar
// when span is sampled.
func observeLatency(h prometheus.Observer, seconds float64, sc trace.SpanContext) {
	if sc.IsSampled() {
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
