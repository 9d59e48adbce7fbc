package tracing

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otelVars are every variable FromEnv reads itself; each test case starts
// with all of them empty.
var otelVars = []string{
	"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER",
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
}

// setenv empties every OTEL_* variable of FromEnv, then sets env.
func setenv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range otelVars {
		t.Setenv(k, "")
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

func TestFromEnvTurnsTracingOnOnlyWhenAsked(t *testing.T) {
	const endpoint = "http://127.0.0.1:1"
	for _, tc := range []struct {
		name     string
		env      map[string]string
		protocol string // "" : off
		err      string // part of the error, when one is wanted
	}{
		{"nothing set is off", nil, "", ""},
		{"an endpoint turns it on over OTLP/HTTP", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}, "http/protobuf", ""},
		{"a traces endpoint turns it on too", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint + "/v1/traces"}, "http/protobuf", ""},
		{"the grpc protocol", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "grpc", ""},
		{"the traces protocol wins", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, "http/protobuf", ""},
		{"the otlp exporter named without an endpoint takes the default", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, "http/protobuf", ""},
		{"the SDK disabled is off", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_SDK_DISABLED": "true"}, "", ""},
		{"exporter none is off", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_TRACES_EXPORTER": "none"}, "", ""},
		{"another exporter is refused", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, "", "only otlp and none"},
		{"another protocol is refused", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "", "only http/protobuf and grpc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setenv(t, tc.env)
			tp, err := FromEnv(context.Background(), "app", "test")
			switch {
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				return
			case err != nil:
				t.Fatal(err)
			case tc.protocol == "":
				if tp != nil {
					t.Fatalf("tracing on (%s to %s), want off", tp.Protocol, tp.Endpoint)
				}
				return
			case tp == nil:
				t.Fatalf("tracing off, want on over %s", tc.protocol)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 0) // nothing to flush
			defer cancel()
			_ = tp.Shutdown(ctx)
			if tp.Protocol != tc.protocol {
				t.Errorf("protocol %s, want %s", tp.Protocol, tc.protocol)
			}
		})
	}
}

func TestFromEnvExportsToTheEndpointWithTheServiceName(t *testing.T) {
	var (
		mu   sync.Mutex
		reqs []*coltrace.ExportTraceServiceRequest
	)
	rx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		reqs = append(reqs, &req)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(nil)
	}))
	defer rx.Close()
	setenv(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rx.URL})
	t.Setenv("OTEL_SERVICE_NAME", "replica-3")

	tp, err := FromEnv(context.Background(), "app", "test")
	if err != nil || tp == nil {
		t.Fatalf("FromEnv: %v, %v", tp, err)
	}
	_, span := tp.Tracer("test").Start(context.Background(), "work")
	span.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown (flush): %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reqs) != 1 || len(reqs[0].ResourceSpans) != 1 {
		t.Fatalf("%d exports, want 1 with one resource", len(reqs))
	}
	rs := reqs[0].ResourceSpans[0]
	attrs := map[string]string{}
	for _, kv := range rs.GetResource().GetAttributes() {
		attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
	}
	if attrs["service.name"] != "replica-3" || attrs["service.version"] != "test" {
		t.Errorf("resource %v, want service.name from OTEL_SERVICE_NAME and our version", attrs)
	}
	if s := rs.GetScopeSpans(); len(s) != 1 || len(s[0].GetSpans()) != 1 || s[0].GetSpans()[0].GetName() != "work" {
		t.Errorf("exported %v, want the one span named work", s)
	}
}
