package grpcapi_test

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	"github.com/mnistserve/app/grpcapi"
	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/pipeline"
	pb "github.com/mnistserve/app/proto/inference"
	"github.com/mnistserve/app/serve"
	"github.com/mnistserve/app/store/storetest"
)

// sevens answers 7 for every image.
type sevens struct{}

func (sevens) Predict(_ context.Context, imgs [][]byte) ([][model.Classes]float32, error) {
	out := make([][model.Classes]float32, len(imgs))
	for i := range out {
		out[i][7] = 1
	}
	return out, nil
}
func (sevens) Meta() model.Meta { return model.Meta{Version: "v7"} }

// A caller's trace, sampled.
const (
	callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan  = "00f067aa0ba902b7"
)

// tracedClient serves the protocol over gRPC on an in-memory listener
// with every span going to the returned exporter; allow is the rate limit.
func tracedClient(t *testing.T, allow func(string) (bool, time.Duration)) (pb.GRPCInferenceServiceClient, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	st, _ := storetest.Open(t, "sqlite")
	srv := serve.New(serve.Config{Tracing: tp}, st, nil)
	t.Cleanup(srv.Close)
	srv.SetModel(sevens{})
	rpc := grpcapi.New(srv.OIP(), grpcapi.Config{Tracing: tp, Allow: allow}, nil)
	ln := bufconn.Listen(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rpc.Serve(ctx, ln) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		cancel()
		<-done
	})
	return pb.NewGRPCInferenceServiceClient(conn), exp
}

// infer sends one blank image with the caller's traceparent.
func infer(c pb.GRPCInferenceServiceClient) error {
	ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")
	_, err := c.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "mnist", Inputs: []*pb.ModelInferRequest_InferInputTensor{{
		Name: "image", Datatype: "UINT8", Shape: []int64{1, 784},
		Contents: &pb.InferTensorContents{UintContents: make([]uint32, 784)},
	}}})
	return err
}

// serverSpan waits for the ModelInfer server span and returns every span
// ended by then, failing unless it comes within 5 s. gRPC's stats handler
// ends the server span after the reply is on the wire, so the client can
// hold its answer a moment before the span is exported.
func serverSpan(t *testing.T, exp *tracetest.InMemoryExporter) (tracetest.SpanStub, tracetest.SpanStubs) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ss := tracetest.SpanStubs(exp.GetSpans())
		for _, s := range ss {
			if s.Name == pb.GRPCInferenceService_ModelInfer_FullMethodName[1:] && s.SpanKind == trace.SpanKindServer {
				return s, ss
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ModelInfer server span among %d spans after 5 s", len(ss))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestModelInferIsTracedUnderTheCallersTrace(t *testing.T) {
	c, exp := tracedClient(t, nil)
	if err := infer(c); err != nil {
		t.Fatal(err)
	}
	server, ss := serverSpan(t, exp)
	if server.SpanContext.TraceID().String() != callerTrace || server.Parent.SpanID().String() != callerSpan {
		t.Errorf("server span in trace %s under %s, want the caller's %s under %s",
			server.SpanContext.TraceID(), server.Parent.SpanID(), callerTrace, callerSpan)
	}
	var children []string
	for _, s := range ss {
		if s.Parent.SpanID() == server.SpanContext.SpanID() {
			children = append(children, s.Name)
		}
	}
	slices.Sort(children)
	want := []string{pipeline.SpanAdmit, pipeline.SpanCommit, pipeline.SpanModel, pipeline.SpanQueue}
	if !slices.Equal(children, want) {
		t.Errorf("children of the call's span %v, want %v", children, want)
	}
}

func TestARefusedCallIsAFailedSpan(t *testing.T) {
	c, exp := tracedClient(t, func(string) (bool, time.Duration) { return false, time.Second })
	if err := infer(c); err == nil {
		t.Fatal("call over the rate limit succeeded")
	}
	server, _ := serverSpan(t, exp)
	if server.Status.Code != codes.Error || server.SpanContext.TraceID().String() != callerTrace {
		t.Errorf("server span status %v in trace %s, want an error in the caller's trace", server.Status, server.SpanContext.TraceID())
	}
}
