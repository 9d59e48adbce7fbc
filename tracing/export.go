package tracing

import (
	"context"
	"fmt"
	"math"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// exporter is otlptrace.Exporter with a transform that allocates nothing
// once warm. otlptrace's own transform makes a dozen small protobuf
// objects a span (the span, its status, ids, each attribute three times
// over, each link) and drops them after the upload: at six spans a
// request, about as many allocations as the rest of its tracing, and
// 1.1 us of CPU a span (BENCHMARKS.md, "Tracing's cost"). This one
// writes every batch into the protobuf objects of the one before. The
// client is the OTLP exporter's own (otlptracehttp or otlptracegrpc
// NewClient), so the endpoint, headers, TLS, compression, timeout and
// retries are still theirs, read from the OTEL_* variables; the client
// marshals the request before UploadTraces returns and keeps none of it.
type exporter struct {
	client otlptrace.Client

	mu   sync.Mutex // one export at a time: they share t
	t    transform
	stop sync.Once
}

// newExporter starts client and returns the exporter that uploads
// through it.
func newExporter(ctx context.Context, client otlptrace.Client) (*exporter, error) {
	if err := client.Start(ctx); err != nil {
		return nil, err
	}
	return &exporter{client: client}, nil
}

// ExportSpans uploads spans in one request.
func (e *exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	rss := e.t.resourceSpans(spans)
	if len(rss) == 0 {
		return nil
	}
	if err := e.client.UploadTraces(ctx, rss); err != nil {
		return fmt.Errorf("traces export: %w", err)
	}
	return nil
}

// Shutdown stops the client; later exports fail as the client's do.
func (e *exporter) Shutdown(ctx context.Context) error {
	err := error(nil)
	e.stop.Do(func() { err = e.client.Stop(ctx) })
	return err
}

// transform turns ReadOnlySpans into OTLP protobuf objects as
// otlptrace's internal tracetransform does, field for field, reusing the
// objects of the previous call: every object it returns is valid until
// the next call.
type transform struct {
	gen    int // the call; a group last used in an older one starts empty
	out    []*tracepb.ResourceSpans
	groups map[groupKey]*scopeGroup
	res    map[attribute.Distinct]*resourceGroup
	last   *scopeGroup // the group of the span before, nearly always the next one's
	lastK  groupKey

	spans slots[spanSlot]
	kvs   slots[kvSlot]
	links slots[linkSlot]
}

// groupKey is a span's resource and instrumentation scope: OTLP groups
// spans by both.
type groupKey struct {
	res   attribute.Distinct
	scope instrumentation.Scope
}

// resourceGroup is the ResourceSpans of one resource.
type resourceGroup struct {
	gen int
	rs  tracepb.ResourceSpans
}

// scopeGroup is the ScopeSpans of one scope within one resource.
type scopeGroup struct {
	gen int
	rg  *resourceGroup
	ss  tracepb.ScopeSpans
}

// spanSlot is one span's protobuf objects, with room for its ids.
type spanSlot struct {
	pb            tracepb.Span
	status        tracepb.Status
	tid           trace.TraceID
	sid, parentID trace.SpanID
	// The backing arrays of pb's lists, kept when pb's list is nil.
	links  []*tracepb.Span_Link
	attrs  []*commonpb.KeyValue
	events []*tracepb.Span_Event
}

// linkSlot is one link's.
type linkSlot struct {
	pb    tracepb.Span_Link
	tid   trace.TraceID
	sid   trace.SpanID
	attrs []*commonpb.KeyValue
}

// kvSlot is one attribute's, with each scalar kind of value it can hold.
type kvSlot struct {
	kv  commonpb.KeyValue
	av  commonpb.AnyValue
	str commonpb.AnyValue_StringValue
	i   commonpb.AnyValue_IntValue
	f   commonpb.AnyValue_DoubleValue
	b   commonpb.AnyValue_BoolValue
}

// slots hands out reusable objects of one kind, in order, from the start
// again after reset.
type slots[T any] struct {
	all  []*T
	used int
}

func (s *slots[T]) next() *T {
	if s.used == len(s.all) {
		s.all = append(s.all, new(T))
	}
	p := s.all[s.used]
	s.used++
	return p
}

func (s *slots[T]) reset() { s.used = 0 }

// resourceSpans is tracetransform.Spans: spans grouped by resource, then
// by scope, in the order they came.
func (t *transform) resourceSpans(spans []sdktrace.ReadOnlySpan) []*tracepb.ResourceSpans {
	if t.groups == nil {
		t.groups = map[groupKey]*scopeGroup{}
		t.res = map[attribute.Distinct]*resourceGroup{}
	}
	t.gen++
	t.out = t.out[:0]
	t.spans.reset()
	t.kvs.reset()
	t.links.reset()
	for _, sd := range spans {
		if sd == nil {
			continue
		}
		g := t.group(sd.Resource(), sd.InstrumentationScope())
		g.ss.Spans = append(g.ss.Spans, t.span(sd))
	}
	return t.out
}

// group returns the ScopeSpans of res and scope in this call, adding it
// (and its ResourceSpans) to the output on its first span.
func (t *transform) group(res *resource.Resource, scope instrumentation.Scope) *scopeGroup {
	k := groupKey{res: res.Equivalent(), scope: scope}
	g := t.last
	if g == nil || k != t.lastK {
		g = t.groups[k]
		if g == nil {
			rg := t.res[k.res]
			if rg == nil {
				rg = &resourceGroup{rs: tracepb.ResourceSpans{Resource: resourceProto(res), SchemaUrl: res.SchemaURL()}}
				t.res[k.res] = rg
			}
			g = &scopeGroup{rg: rg, ss: tracepb.ScopeSpans{Scope: scopeProto(scope), SchemaUrl: scope.SchemaURL}}
			t.groups[k] = g
		}
		t.last, t.lastK = g, k
	}
	if g.gen != t.gen {
		g.gen = t.gen
		g.ss.Spans = g.ss.Spans[:0]
		if g.rg.gen != t.gen {
			g.rg.gen = t.gen
			g.rg.rs.ScopeSpans = g.rg.rs.ScopeSpans[:0]
			t.out = append(t.out, &g.rg.rs)
		}
		g.rg.rs.ScopeSpans = append(g.rg.rs.ScopeSpans, &g.ss)
	}
	return g
}

// span is tracetransform's span, in a slot. Every field is set, so that
// nothing of the slot's last span stays.
func (t *transform) span(sd sdktrace.ReadOnlySpan) *tracepb.Span {
	s := t.spans.next()
	sc := sd.SpanContext()
	s.tid, s.sid = sc.TraceID(), sc.SpanID()
	st := sd.Status()
	s.status.Code, s.status.Message = statusCode(st.Code), st.Description
	p := &s.pb
	p.TraceId = s.tid[:]
	p.SpanId = s.sid[:]
	p.TraceState = sc.TraceState().String()
	p.Status = &s.status
	p.StartTimeUnixNano = uint64(max(0, sd.StartTime().UnixNano()))
	p.EndTimeUnixNano = uint64(max(0, sd.EndTime().UnixNano()))
	s.links = t.linkProtos(s.links[:0], sd.Links())
	p.Links = orNil(s.links)
	p.Kind = spanKind(sd.SpanKind())
	p.Name = sd.Name()
	s.attrs = t.keyValues(s.attrs[:0], sd.Attributes())
	p.Attributes = orNil(s.attrs)
	s.events = t.events(s.events[:0], sd.Events())
	p.Events = orNil(s.events)
	p.DroppedAttributesCount = clampUint32(sd.DroppedAttributes())
	p.DroppedEventsCount = clampUint32(sd.DroppedEvents())
	p.DroppedLinksCount = clampUint32(sd.DroppedLinks())
	parent := sd.Parent()
	p.ParentSpanId = nil
	if psid := parent.SpanID(); psid.IsValid() {
		s.parentID = psid
		p.ParentSpanId = s.parentID[:]
	}
	p.Flags = spanFlags(sc.TraceFlags(), parent)
	return p
}

// linkProtos appends links to dst, in slots.
func (t *transform) linkProtos(dst []*tracepb.Span_Link, links []sdktrace.Link) []*tracepb.Span_Link {
	for _, l := range links {
		s := t.links.next()
		s.tid, s.sid = l.SpanContext.TraceID(), l.SpanContext.SpanID()
		s.pb.TraceId = s.tid[:]
		s.pb.SpanId = s.sid[:]
		s.attrs = t.keyValues(s.attrs[:0], l.Attributes)
		s.pb.Attributes = orNil(s.attrs)
		s.pb.DroppedAttributesCount = clampUint32(l.DroppedAttributeCount)
		s.pb.Flags = spanFlags(l.SpanContext.TraceFlags(), l.SpanContext)
		dst = append(dst, &s.pb)
	}
	return dst
}

// events appends es to dst. Events are rare here (an error recorded), so
// they are made anew.
func (t *transform) events(dst []*tracepb.Span_Event, es []sdktrace.Event) []*tracepb.Span_Event {
	clear(dst[:cap(dst)]) // the last call's events, made anew, go
	for _, e := range es {
		dst = append(dst, &tracepb.Span_Event{
			Name:                   e.Name,
			TimeUnixNano:           uint64(max(0, e.Time.UnixNano())),
			Attributes:             orNil(t.keyValues(nil, e.Attributes)),
			DroppedAttributesCount: clampUint32(e.DroppedAttributeCount),
		})
	}
	return dst
}

// keyValues appends attrs to dst, in slots.
func (t *transform) keyValues(dst []*commonpb.KeyValue, attrs []attribute.KeyValue) []*commonpb.KeyValue {
	for _, kv := range attrs {
		s := t.kvs.next()
		s.kv.Key = string(kv.Key)
		s.kv.Value = &s.av
		t.setValue(s, kv.Value)
		dst = append(dst, &s.kv)
	}
	return dst
}

// setValue sets s's AnyValue to v: the scalars in the slot, the rest as
// tracetransform makes them.
func (t *transform) setValue(s *kvSlot, v attribute.Value) {
	switch v.Type() {
	case attribute.STRING:
		s.str.StringValue = v.AsString()
		s.av.Value = &s.str
	case attribute.INT64:
		s.i.IntValue = v.AsInt64()
		s.av.Value = &s.i
	case attribute.FLOAT64:
		s.f.DoubleValue = v.AsFloat64()
		s.av.Value = &s.f
	case attribute.BOOL:
		s.b.BoolValue = v.AsBool()
		s.av.Value = &s.b
	default:
		s.av.Value = anyValue(v).Value
	}
}

// anyValue is tracetransform.Value, for the kinds of value the slots do
// not hold.
func anyValue(v attribute.Value) *commonpb.AnyValue {
	av := new(commonpb.AnyValue)
	switch v.Type() {
	case attribute.BOOL:
		av.Value = &commonpb.AnyValue_BoolValue{BoolValue: v.AsBool()}
	case attribute.INT64:
		av.Value = &commonpb.AnyValue_IntValue{IntValue: v.AsInt64()}
	case attribute.FLOAT64:
		av.Value = &commonpb.AnyValue_DoubleValue{DoubleValue: v.AsFloat64()}
	case attribute.STRING:
		av.Value = &commonpb.AnyValue_StringValue{StringValue: v.AsString()}
	case attribute.BYTESLICE:
		av.Value = &commonpb.AnyValue_BytesValue{BytesValue: v.AsByteSlice()}
	case attribute.BOOLSLICE:
		av.Value = array(v.AsBoolSlice(), func(b bool) attribute.Value { return attribute.BoolValue(b) })
	case attribute.INT64SLICE:
		av.Value = array(v.AsInt64Slice(), attribute.Int64Value)
	case attribute.FLOAT64SLICE:
		av.Value = array(v.AsFloat64Slice(), attribute.Float64Value)
	case attribute.STRINGSLICE:
		av.Value = array(v.AsStringSlice(), attribute.StringValue)
	case attribute.SLICE:
		av.Value = array(v.AsSlice(), func(v attribute.Value) attribute.Value { return v })
	case attribute.MAP:
		m := v.AsMap()
		kvs := make([]*commonpb.KeyValue, 0, len(m))
		for _, kv := range m {
			kvs = append(kvs, &commonpb.KeyValue{Key: string(kv.Key), Value: anyValue(kv.Value)})
		}
		if len(kvs) == 0 {
			kvs = nil
		}
		av.Value = &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvs}}
	case attribute.EMPTY:
	default:
		av.Value = &commonpb.AnyValue_StringValue{StringValue: "INVALID"}
	}
	return av
}

// array is an OTLP array value of vs.
func array[T any](vs []T, value func(T) attribute.Value) *commonpb.AnyValue_ArrayValue {
	out := make([]*commonpb.AnyValue, len(vs))
	for i, v := range vs {
		out[i] = anyValue(value(v))
	}
	return &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: out}}
}

// resourceProto is tracetransform.Resource.
func resourceProto(r *resource.Resource) *resourcepb.Resource {
	if r == nil {
		return nil
	}
	return &resourcepb.Resource{Attributes: iterProtos(r.Iter())}
}

// scopeProto is tracetransform.InstrumentationScope.
func scopeProto(s instrumentation.Scope) *commonpb.InstrumentationScope {
	if s == (instrumentation.Scope{}) {
		return nil
	}
	return &commonpb.InstrumentationScope{Name: s.Name, Version: s.Version, Attributes: iterProtos(s.Attributes.Iter())}
}

// iterProtos is every attribute of it, made anew (once per resource or
// scope, not per span).
func iterProtos(it attribute.Iterator) []*commonpb.KeyValue {
	if it.Len() == 0 {
		return nil
	}
	out := make([]*commonpb.KeyValue, 0, it.Len())
	for it.Next() {
		kv := it.Attribute()
		out = append(out, &commonpb.KeyValue{Key: string(kv.Key), Value: anyValue(kv.Value)})
	}
	return out
}

// statusCode is the OTLP status code of c.
func statusCode(c codes.Code) tracepb.Status_StatusCode {
	switch c {
	case codes.Ok:
		return tracepb.Status_STATUS_CODE_OK
	case codes.Error:
		return tracepb.Status_STATUS_CODE_ERROR
	}
	return tracepb.Status_STATUS_CODE_UNSET
}

// spanKind is the OTLP kind of k.
func spanKind(k trace.SpanKind) tracepb.Span_SpanKind {
	switch k {
	case trace.SpanKindInternal:
		return tracepb.Span_SPAN_KIND_INTERNAL
	case trace.SpanKindClient:
		return tracepb.Span_SPAN_KIND_CLIENT
	case trace.SpanKindServer:
		return tracepb.Span_SPAN_KIND_SERVER
	case trace.SpanKindProducer:
		return tracepb.Span_SPAN_KIND_PRODUCER
	case trace.SpanKindConsumer:
		return tracepb.Span_SPAN_KIND_CONSUMER
	}
	return tracepb.Span_SPAN_KIND_UNSPECIFIED
}

// spanFlags are the OTLP flags of a span or link: its trace flags, and
// whether its parent (for a link, the linked span) is remote.
func spanFlags(tf trace.TraceFlags, parent trace.SpanContext) uint32 {
	flags := uint32(tf) | uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK)
	if parent.IsRemote() {
		flags |= uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK)
	}
	return flags
}

// clampUint32 is v within uint32.
func clampUint32(v int) uint32 {
	if v < 0 {
		return 0
	}
	if int64(v) > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(v)
}

// orNil is s, or nil when it is empty, as tracetransform leaves an empty
// list (the slot keeps the backing array).
func orNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
