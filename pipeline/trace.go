package pipeline

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Tracing. A request's spans hang under whatever span its front door put
// in the context it passes (an HTTP or gRPC server span):
//
//	pipeline.admit   taking the admission slot (an error when refused)
//	pipeline.queue   from the queue until a batcher takes it
//	pipeline.model   the model call that answered it
//	pipeline.commit  waiting for the group commit of its rows
//
// A model call that serves several requests is a span of its own,
// pipeline.batch, with no parent and a link to each request it served; each
// request's pipeline.model span links back to it. A model call that served
// one request alone (most of them, below saturation) has no span but that
// request's pipeline.model, which then carries the batch's attributes.
// The group commit's span is the store observer's (see store.CommitStats.Callers), linked to each
// request's pipeline.commit span. With Config.Tracer nil none of this runs:
// every helper below, and every span start in the stages, stops at a nil
// check before it makes anything (a span option allocates).

// Span names, for tests and dashboards.
const (
	SpanAdmit  = "pipeline.admit"
	SpanQueue  = "pipeline.queue"
	SpanModel  = "pipeline.model"
	SpanCommit = "pipeline.commit"
	SpanBatch  = "pipeline.batch"
)

// endSpan ends span, marking it failed with err; a nil span is no span.
func endSpan(span trace.Span, err error, opts ...trace.SpanEndOption) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End(opts...)
}

// traceAdmit records an admission that took no time at all: refused or
// admitted at once.
func (p *Pipeline) traceAdmit(ctx context.Context, err error) {
	if p.tracer == nil {
		return
	}
	_, span := p.tracer.Start(ctx, SpanAdmit)
	endSpan(span, err)
}

// batchSpan starts the span of one model call over live's requests, or
// returns nil without a tracer or for a request alone, whose own
// pipeline.model span is then the model call's (one span a request fewer
// in the common case of a batch of one; see endBatchTrace).
func (p *Pipeline) batchSpan(live []*job, images int, version string, start time.Time) trace.Span {
	if p.tracer == nil || len(live) < 2 {
		return nil
	}
	links := make([]trace.Link, 0, len(live))
	for _, j := range live {
		if sc := trace.SpanContextFromContext(j.ctx); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	_, span := p.tracer.Start(context.Background(), SpanBatch,
		trace.WithNewRoot(), trace.WithTimestamp(start), trace.WithLinks(links...),
		batchAttributes(len(live), images, version))
	return span
}

// batchAttributes are the attributes of a model call's span: the
// pipeline.batch span, or a lone request's pipeline.model span.
func batchAttributes(requests, images int, version string) trace.SpanStartEventOption {
	return trace.WithAttributes(attribute.Int("pipeline.batch.requests", requests), attribute.Int("pipeline.batch.images", images),
		attribute.String("model.version", version))
}

// endBatchTrace ends span (nil for a request alone) with the model call's
// err and returns what the requests' spans are made from; nil without a
// tracer.
func (p *Pipeline) endBatchTrace(span trace.Span, images int, version string, started, finished time.Time, err error) *batchTrace {
	if p.tracer == nil {
		return nil
	}
	if span == nil {
		return newBatchTrace(started, finished, batchAttributes(1, images, version))
	}
	bt := newBatchTrace(started, finished, trace.WithLinks(trace.Link{SpanContext: span.SpanContext()}))
	endSpan(span, err, bt.modelEnd...)
	return bt
}

// traceBatched records, in the request's own goroutine, the queue wait and
// the model call of a request that went through a batch.
func (p *Pipeline) traceBatched(ctx context.Context, j *job, r jobResult) {
	b := r.batch
	if p.tracer == nil || b == nil {
		return
	}
	_, queue := p.tracer.Start(ctx, SpanQueue, trace.WithTimestamp(j.enqueued))
	queue.End(b.queueEnd...)
	_, model := p.tracer.Start(ctx, SpanModel, b.modelStart...)
	endSpan(model, r.err, b.modelEnd...)
}
