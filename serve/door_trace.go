package serve

import (
	"bytes"
	"context"
	"net/http"
	"net/textproto"
	"slices"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// traceShed gives a request the door refused (door.go) its server span,
// as every other request has one: named for its route, in the caller's
// trace when the part of the head the door read carries a traceparent,
// and ended at once as an error of 503. The door's answer is fixed bytes,
// so it carries no traceresponse header. Nothing happens without tracing.
func (s *Server) traceShed(route string, head []byte) {
	if s.tracer == nil {
		return
	}
	ctx := traceContext.Extract(context.Background(), propagation.HeaderCarrier(traceHeaders(head)))
	st := s.spanStartOf(http.MethodPost, route, route)
	_, span := s.tracer.Start(ctx, st.name, append(slices.Clip(st.opts), trace.WithAttributes(attribute.Bool("app.shed_at_door", true)))...)
	endSpan(span, http.StatusServiceUnavailable, ErrBusy)
}

// traceHeaders returns the W3C trace context headers (traceparent,
// tracestate) among the header lines of head, a request's head as far as
// it was read: a line cut off by the end of head is left out.
func traceHeaders(head []byte) http.Header {
	h := http.Header{}
	_, rest, ok := bytes.Cut(head, []byte("\n")) // the request line
	for ok {
		var line []byte
		if line, rest, ok = bytes.Cut(rest, []byte("\n")); !ok {
			break // cut off
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break // the end of the head
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found {
			continue
		}
		switch key := textproto.CanonicalMIMEHeaderKey(string(name)); key {
		case "Traceparent", "Tracestate":
			h.Add(key, string(bytes.TrimSpace(value)))
		}
	}
	return h
}
