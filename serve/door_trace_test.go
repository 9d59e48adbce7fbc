package serve

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"

	"github.com/mnistserve/app/store/storetest"
)

func TestTraceOfARequestShedAtTheDoor(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s, exp := tracedServer(t, Config{QueueLength: 1}, st, &fakeModel{version: "v1"}, nil)
	base, _, _ := startServer(t, s)
	addr := strings.TrimPrefix(base, "http://")
	release, err := s.admit(context.Background()) // the only slot: the door refuses what comes
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	body := validBody(t)
	exp.Reset()

	for _, tc := range []struct {
		name, head string
		trace      string // the trace the span must be in; "" for a new one
	}{
		{"with the caller's traceparent", fmt.Sprintf("POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\ntraceParent: %s\r\nContent-Length: %d\r\n\r\n", callerParent, len(body)), callerTrace},
		{"without one", predictHead("/predict", len(body)), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp.Reset()
			resp, b, err := rawRequest(t, addr, tc.head, body)
			assertBusy(t, tc.name, resp, b, err)
			ss := spans(exp.GetSpans())
			span := ss.one(t, "POST /predict")
			if span.Status.Code != codes.Error || !strings.Contains(span.Status.Description, "busy") ||
				attr(span, "http.response.status_code").AsInt64() != http.StatusServiceUnavailable || !attr(span, "app.shed_at_door").AsBool() {
				t.Errorf("span: status %v, attributes %v; want an error of 503 shed at the door", span.Status, span.Attributes)
			}
			got := span.SpanContext.TraceID().String()
			if tc.trace != "" && got != tc.trace {
				t.Errorf("trace %s, want the caller's %s", got, tc.trace)
			}
			if tc.trace == "" && (got == callerTrace || span.Parent.IsValid()) {
				t.Errorf("trace %s with parent %v, want a new trace of its own", got, span.Parent)
			}
			if n := len(ss); n != 1 {
				t.Errorf("%d spans (%v), want the one server span: the request never reached the pipeline", n, ss.names())
			}
		})
	}
}

func TestTraceHeadersOfAHeadAsFarAsRead(t *testing.T) {
	for _, tc := range []struct {
		head, parent, state string
	}{
		{"POST /predict HTTP/1.1\r\nTRACEPARENT: " + callerParent + "\r\ntracestate: a=1\r\n\r\n", callerParent, "a=1"},
		{"POST /predict HTTP/1.1\nHost: x\ntraceparent:" + callerParent + "\n\n", callerParent, ""},
		// A line cut off where the door stopped reading is not taken.
		{"POST /predict HTTP/1.1\r\ntraceparent: " + callerParent[:20], "", ""},
		// Nor is anything after the head's end: that is the body.
		{"POST /predict HTTP/1.1\r\n\r\ntraceparent: " + callerParent + "\r\n", "", ""},
		{"POST /predict HTTP/1.1", "", ""},
	} {
		h := traceHeaders([]byte(tc.head))
		if h.Get("Traceparent") != tc.parent || h.Get("Tracestate") != tc.state || len(h) > 2 {
			t.Errorf("traceHeaders(%q) = %v, want traceparent %q and tracestate %q only", tc.head, h, tc.parent, tc.state)
		}
	}
}
