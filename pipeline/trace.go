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
// A model call serves several requests, so it is a span of its own,
// pipeline.batch, with no parent and a link to each request it served; each
// request's pipeline.model span links back to it. The group commit's span
// is the store observer's (see store.CommitStats.Callers), linked to each
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
// returns nil without a tracer.
func (p *Pipeline) batchSpan(live []*job, images int, version string, start time.Time) trace.Span {
	if p.tracer == nil {
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
		trace.WithAttributes(attribute.Int("pipeline.batch.requests", len(live)), attribute.Int("pipeline.batch.images", images),
			attribute.String("model.version", version)))
	return span
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
