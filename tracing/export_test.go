package tracing

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

// captureClient is an otlptrace.Client that keeps a copy of each upload.
type captureClient struct{ uploads [][]*tracepb.ResourceSpans }

func (*captureClient) Start(context.Context) error { return nil }
func (*captureClient) Stop(context.Context) error  { return nil }
func (c *captureClient) UploadTraces(_ context.Context, rss []*tracepb.ResourceSpans) error {
	cp := make([]*tracepb.ResourceSpans, len(rss))
	for i, rs := range rss {
		cp[i] = proto.Clone(rs).(*tracepb.ResourceSpans)
	}
	c.uploads = append(c.uploads, cp)
	return nil
}

// varied are spans with every field the transform sets, in two scopes
// and two resources: attributes of each kind, links with attributes, an
// event, an error status, a remote parent, a trace state, each kind.
func varied(tb testing.TB) []sdktrace.ReadOnlySpan {
	tb.Helper()
	res := resource.NewSchemaless(attribute.String("service.name", "app"), attribute.String("service.version", "test"))
	other := resource.NewSchemaless(attribute.String("service.name", "other"))
	ts, err := trace.ParseTraceState("vendor=value")
	if err != nil {
		tb.Fatal(err)
	}
	remote := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6},
		TraceFlags: trace.FlagsSampled, TraceState: ts, Remote: true,
	})
	local := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{7, 8, 9}, TraceFlags: trace.FlagsSampled})
	t0 := time.Date(2026, 12, 2, 11, 0, 0, 0, time.UTC)
	scope := instrumentation.Scope{Name: "github.com/mnistserve/app", Version: "1", SchemaURL: "https://example.com/s"}
	stubs := tracetest.SpanStubs{
		{
			Name: "POST /predict", SpanContext: local, Parent: remote, SpanKind: trace.SpanKindServer,
			StartTime: t0, EndTime: t0.Add(time.Millisecond),
			Attributes: []attribute.KeyValue{
				attribute.String("http.route", "/predict"), attribute.Int("http.response.status_code", 503),
				attribute.Float64("f", 0.5), attribute.Bool("b", true),
				attribute.StringSlice("ss", []string{"a", "b"}), attribute.Int64Slice("is", []int64{1, 2}),
				attribute.Float64Slice("fs", []float64{1.5}), attribute.BoolSlice("bs", []bool{false}),
			},
			Status:               sdktrace.Status{Code: codes.Error, Description: "queue full"},
			Events:               []sdktrace.Event{{Name: "exception", Time: t0, Attributes: []attribute.KeyValue{attribute.String("exception.message", "busy")}}},
			DroppedAttributes:    2,
			InstrumentationScope: scope,
			Resource:             res,
			ChildSpanCount:       4,
			DroppedEvents:        1,
			DroppedLinks:         0,
		},
		{
			Name: "pipeline.batch", SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{9}, SpanID: trace.SpanID{9}, TraceFlags: trace.FlagsSampled}),
			SpanKind: trace.SpanKindInternal, StartTime: t0, EndTime: t0.Add(2 * time.Millisecond),
			Links: []sdktrace.Link{
				{SpanContext: local},
				{SpanContext: remote, Attributes: []attribute.KeyValue{attribute.String("why", "x")}, DroppedAttributeCount: 3},
			},
			Attributes:           []attribute.KeyValue{attribute.Int("pipeline.batch.requests", 2)},
			Status:               sdktrace.Status{Code: codes.Ok},
			InstrumentationScope: scope, Resource: res,
		},
		{
			Name: "store.commit", SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{8}, SpanID: trace.SpanID{8}}),
			SpanKind: trace.SpanKindClient, StartTime: t0, EndTime: t0.Add(3 * time.Millisecond),
			InstrumentationScope: instrumentation.Scope{Name: "other-scope"}, Resource: res,
		},
		{
			Name: "elsewhere", SpanContext: local, Parent: local, SpanKind: trace.SpanKindProducer,
			StartTime: t0, EndTime: t0, Resource: other,
		},
		{Name: "consumer", SpanContext: local, SpanKind: trace.SpanKindConsumer, StartTime: t0, EndTime: t0, InstrumentationScope: scope, Resource: res},
	}
	return stubs.Snapshots()
}

// sortedText is each of rss in the protobuf text format, sorted.
func sortedText(rss []*tracepb.ResourceSpans) []string {
	out := make([]string, len(rss))
	for i, rs := range rss {
		out[i] = prototext.MarshalOptions{Multiline: false}.Format(rs)
	}
	slices.Sort(out)
	return out
}

// export sends batches through exp and returns what its client got.
func export(tb testing.TB, newExp func(otlptrace.Client) sdktrace.SpanExporter, batches ...[]sdktrace.ReadOnlySpan) [][]*tracepb.ResourceSpans {
	tb.Helper()
	c := &captureClient{}
	exp := newExp(c)
	for _, b := range batches {
		if err := exp.ExportSpans(context.Background(), b); err != nil {
			tb.Fatal(err)
		}
	}
	return c.uploads
}

func TestExporterSendsWhatOTLPTraceSends(t *testing.T) {
	all := varied(t)
	// Each batch after the first reuses the objects of the one before:
	// smaller, larger, in another order, so that a field left over from
	// the last span in a slot shows.
	batches := [][]sdktrace.ReadOnlySpan{
		all,
		{all[2], all[0]},
		{all[4], all[3], all[1], all[0], all[2]},
		{all[3]},
		all,
	}
	theirs := export(t, func(c otlptrace.Client) sdktrace.SpanExporter {
		exp, err := otlptrace.New(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		return exp
	}, batches...)
	ours := export(t, func(c otlptrace.Client) sdktrace.SpanExporter {
		exp, err := newExporter(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		return exp
	}, batches...)
	if len(ours) != len(batches) || len(theirs) != len(batches) {
		t.Fatalf("%d and %d uploads, want %d each", len(ours), len(theirs), len(batches))
	}
	for i := range batches {
		// otlptrace orders resources by a map: compare them in one order.
		a, b := sortedText(theirs[i]), sortedText(ours[i])
		if !slices.Equal(a, b) {
			t.Errorf("batch %d: ours differs from otlptrace's:\ntheirs: %s\nours:   %s", i, a, b)
		}
	}
	if n := len(ours[0]); n != 2 {
		t.Errorf("%d resources in the first upload, want 2", n)
	}
}

func TestExporterSendsNothingForNoSpans(t *testing.T) {
	c := &captureClient{}
	exp, err := newExporter(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.ExportSpans(context.Background(), nil); err != nil || len(c.uploads) != 0 {
		t.Errorf("export of no spans: %v, %d uploads; want nil and none", err, len(c.uploads))
	}
}

// failingClient fails every upload.
type failingClient struct{ captureClient }

func (failingClient) UploadTraces(context.Context, []*tracepb.ResourceSpans) error {
	return errors.New("receiver away")
}

func TestExporterReportsAFailedUpload(t *testing.T) {
	exp, err := newExporter(context.Background(), &failingClient{})
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.ExportSpans(context.Background(), varied(t)); err == nil {
		t.Error("a failed upload exported without error")
	}
}

// BenchmarkExport is the transform of a batch of 512 spans like a
// request's (attributes, links), ours against otlptrace's, through a
// client that keeps nothing: the CPU and allocations the export adds
// before marshalling.
//
//	go test -run '^$' -bench Export -benchmem ./tracing/
func BenchmarkExport(b *testing.B) {
	var ended endedSpans // the spans as the SDK hands them to a processor
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(&ended))
	tr := tp.Tracer("bench")
	for len(ended) < 512 {
		ctx, root := tr.Start(context.Background(), "POST /predict", trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", "POST"), attribute.String("http.route", "/predict")))
		for _, name := range []string{"pipeline.admit", "pipeline.queue", "pipeline.model", "pipeline.commit"} {
			_, s := tr.Start(ctx, name, trace.WithLinks(trace.Link{SpanContext: root.SpanContext()}))
			s.End()
		}
		root.SetAttributes(attribute.Int("http.response.status_code", 200))
		root.End()
	}
	spans := []sdktrace.ReadOnlySpan(ended)
	for _, bc := range []struct {
		name string
		new  func(otlptrace.Client) (sdktrace.SpanExporter, error)
	}{
		{"otlptrace", func(c otlptrace.Client) (sdktrace.SpanExporter, error) { return otlptrace.New(context.Background(), c) }},
		{"ours", func(c otlptrace.Client) (sdktrace.SpanExporter, error) { return newExporter(context.Background(), c) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			exp, err := bc.new(dropClient{})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := exp.ExportSpans(context.Background(), spans); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(spans)), "ns/span")
		})
	}
}

// endedSpans is a span processor that keeps every span that ends.
type endedSpans []sdktrace.ReadOnlySpan

func (e *endedSpans) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (e *endedSpans) OnEnd(s sdktrace.ReadOnlySpan)                   { *e = append(*e, s) }
func (e *endedSpans) Shutdown(context.Context) error                  { return nil }
func (e *endedSpans) ForceFlush(context.Context) error                { return nil }

// dropClient uploads nothing.
type dropClient struct{}

func (dropClient) Start(context.Context) error                                  { return nil }
func (dropClient) Stop(context.Context) error                                   { return nil }
func (dropClient) UploadTraces(context.Context, []*tracepb.ResourceSpans) error { return nil }
