package conformance

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	reflectpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/mnistserve/app/grpcapi"
	"github.com/mnistserve/app/keys"
	pb "github.com/mnistserve/app/proto/inference"
	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

func TestGRPCMessagesThatAreNotRequestsAreInvalidArguments(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		srv := newServer(t, st, false)
		c := pb.NewGRPCInferenceServiceClient(grpcConn(t, srv, grpcapi.Config{MaxMessage: 16 << 20}))
		good := func() *pb.ModelInferRequest {
			return grpcRequest("mnist", "", oneImage("UINT8", []int64{1, 784}, 3))
		}
		raw := func() *pb.ModelInferRequest {
			r := oneImage("UINT8", []int64{1, 784}, 3)
			r.Binary = true
			return grpcRequest("mnist", "", r)
		}
		for _, tc := range []struct {
			name  string
			req   func() *pb.ModelInferRequest
			words string
		}{
			{"two raw_input_contents for one input", func() *pb.ModelInferRequest {
				r := raw()
				r.RawInputContents = append(r.RawInputContents, []byte{1})
				return r
			}, "raw_input_contents"},
			{"raw_input_contents beside contents", func() *pb.ModelInferRequest {
				r := raw()
				r.Inputs[0].Contents = &pb.InferTensorContents{UintContents: []uint32{1}}
				return r
			}, "contents"},
			{"raw contents of the wrong size", func() *pb.ModelInferRequest {
				r := raw()
				r.RawInputContents[0] = r.RawInputContents[0][:100]
				return r
			}, "100 bytes"},
			{"int_contents for the image", func() *pb.ModelInferRequest {
				r := good()
				r.Inputs[0].Contents = &pb.InferTensorContents{IntContents: make([]int32, 784)}
				return r
			}, "contents"},
			{"fp32_contents for a UINT8 input", func() *pb.ModelInferRequest {
				r := good()
				r.Inputs[0].Contents = &pb.InferTensorContents{Fp32Contents: make([]float32, 784)}
				return r
			}, "fp32_contents"},
			{"uint_contents above 255", func() *pb.ModelInferRequest {
				r := good()
				r.Inputs[0].Contents.UintContents[7] = 300
				return r
			}, "uint_contents[7]"},
			{"ten megabytes of values", func() *pb.ModelInferRequest {
				r := good()
				r.Inputs[0].Datatype = "FP32"
				r.Inputs[0].Contents = &pb.InferTensorContents{Fp32Contents: make([]float32, 10<<20/4)}
				return r
			}, "784"},
			{"no inputs", func() *pb.ModelInferRequest { return &pb.ModelInferRequest{ModelName: "mnist"} }, "inputs"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := c.ModelInfer(context.Background(), tc.req())
				wantKind(t, grpcError(err), invalidArgument, tc.words)
			})
		}
		if n := countRows(t, st); n != 0 {
			t.Errorf("%d rows stored for refused requests, want 0", n)
		}
	})
}

func TestGRPCHealthAndReflection(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	srv := newServer(t, st, true)
	conn := grpcConn(t, srv, grpcapi.Config{})
	h := healthpb.NewHealthClient(conn)
	for _, tc := range []struct {
		service string
		want    healthpb.HealthCheckResponse_ServingStatus
	}{
		{"", healthpb.HealthCheckResponse_SERVING},
		{"inference.GRPCInferenceService", healthpb.HealthCheckResponse_SERVING},
		{"liveness", healthpb.HealthCheckResponse_SERVING},
	} {
		r, err := h.Check(context.Background(), &healthpb.HealthCheckRequest{Service: tc.service})
		if err != nil || r.GetStatus() != tc.want {
			t.Errorf("health of %q: %v, %v; want %v", tc.service, r.GetStatus(), err, tc.want)
		}
	}
	if _, err := h.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("health of an unknown service: %v, want NotFound", err)
	}

	stream, err := reflectpb.NewServerReflectionClient(conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	r, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range r.GetListServicesResponse().GetService() {
		found = found || s.GetName() == "inference.GRPCInferenceService"
	}
	if !found {
		t.Errorf("reflection lists %v, want inference.GRPCInferenceService among them", r.GetListServicesResponse().GetService())
	}

	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	r2, err := h.Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || r2.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health with the database closed: %v, %v; want NOT_SERVING", r2.GetStatus(), err)
	}
}

func TestGRPCRateLimitIsResourceExhausted(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	srv := newServer(t, st, false)
	var asked []string
	conn := grpcConn(t, srv, grpcapi.Config{Allow: func(client string) (bool, time.Duration) {
		asked = append(asked, client)
		return false, 1500 * time.Millisecond
	}})
	c := &grpcClient{tb: t, c: pb.NewGRPCInferenceServiceClient(conn)}
	_, err := c.Infer("mnist", "", oneImage("UINT8", []int64{1, 784}, 1))
	wantKind(t, err, exhausted, "too many requests", "1.5s")
	if len(asked) != 1 || !strings.HasPrefix(asked[0], "addr:") {
		t.Errorf("the limit was asked about %q, want one anonymous caller by address", asked)
	}
	if live, err := c.Live(); err != nil || !live {
		t.Errorf("a probe under the limit: %v, %v; want it answered", live, err)
	}
}

// TestGRPCRateLimitCountsCallsWithBadTokens: as on the HTTP routes, a call
// with a token that is no key is charged to its address before it is
// refused, so tokens cannot be guessed at any pace.
func TestGRPCRateLimitCountsCallsWithBadTokens(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	srv := newServer(t, st, true)
	var asked []string
	limited := true
	conn := grpcConn(t, srv, grpcapi.Config{
		Keys: keyring{predictToken: {Name: "alice", Role: keys.RolePredict}},
		Allow: func(client string) (bool, time.Duration) {
			asked = append(asked, client)
			return !limited, time.Second
		}})
	c := &grpcClient{tb: t, c: pb.NewGRPCInferenceServiceClient(conn), token: "not-a-key"}
	_, err := c.Infer("mnist", "", oneImage("UINT8", []int64{1, 784}, 1))
	wantKind(t, err, exhausted, "too many requests")
	if len(asked) != 1 || !strings.HasPrefix(asked[0], "addr:") {
		t.Errorf("the limit was asked about %q, want the bad token's caller by address", asked)
	}
	limited = false
	_, err = c.Infer("mnist", "", oneImage("UINT8", []int64{1, 784}, 1))
	wantKind(t, err, unauthenticated)
}

// TestErrorsRepeatOnlyTheStartOfAClientsValue: an error names a bad name,
// datatype, shape, model or version by its start, not in full; a gRPC
// error travels in a header, and a client capping headers at 16 KiB (as
// many do) had its stream reset where the message repeated 10 KB or more.
func TestErrorsRepeatOnlyTheStartOfAClientsValue(t *testing.T) {
	everywhere(t, func(t *testing.T, tr transport, st *store.Store) {
		c := tr.client(t, newServer(t, st, false), "")
		long := "x" + strings.Repeat("y", 10_000)
		img := func(edit func(*request)) request {
			r := oneImage("UINT8", []int64{1, 784}, 1)
			edit(&r)
			return r
		}
		for _, tc := range []struct {
			name, model, version string
			req                  request
			kind                 kind
		}{
			{"a long input name", "mnist", "", img(func(r *request) { r.Name = long }), invalidArgument},
			{"a long datatype", "mnist", "", img(func(r *request) { r.Datatype = long }), invalidArgument},
			{"a shape of 5,000 dimensions", "mnist", "", img(func(r *request) { r.Shape = make([]int64, 5000) }), invalidArgument},
			{"a long model name", long, "", img(func(*request) {}), notFound},
			{"a long version", "mnist", long, img(func(*request) {}), notFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := c.Infer(tc.model, tc.version, tc.req)
				wantKind(t, err, tc.kind)
				var pe *protoError
				if errors.As(err, &pe) && len(pe.Message) > 1000 {
					t.Errorf("the error repeats %d bytes: %.120s...", len(pe.Message), pe.Message)
				}
			})
		}
	})
}

// rawCodec sends a request given as bytes as it is, and decodes replies
// as protobuf: a client sending messages that do not decode.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return proto.Unmarshal(data.Materialize(), v.(proto.Message))
}

func (rawCodec) Name() string { return "proto" }

// TestGRPCMessagesThatDoNotDecodeAreInvalidArgument: wire bytes that are
// no protobuf, or a string field that is not UTF-8, are bad input
// (InvalidArgument naming the problem), not Internal, on the inference
// service and on health; the server answers the next call.
func TestGRPCMessagesThatDoNotDecodeAreInvalidArgument(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	conn := grpcConn(t, newServer(t, st, false), grpcapi.Config{})
	notUTF8 := append([]byte{0x0a, 6, 0xff}, "mnist"...) // field 1 (model_name): "\xffmnist"
	garbage := []byte{0xff, 0xff, 0xff, 0xff}
	for _, tc := range []struct {
		method string
		body   []byte
		words  string
	}{
		{pb.GRPCInferenceService_ModelInfer_FullMethodName, notUTF8, "UTF-8"},
		{pb.GRPCInferenceService_ModelReady_FullMethodName, notUTF8, "UTF-8"},
		{pb.GRPCInferenceService_ModelInfer_FullMethodName, garbage, "ModelInfer"},
		{healthpb.Health_Check_FullMethodName, garbage, "Check"},
	} {
		var reply pb.ModelInferResponse
		err := conn.Invoke(context.Background(), tc.method, tc.body, &reply, grpc.ForceCodecV2(rawCodec{}))
		if s := status.Convert(err); s.Code() != codes.InvalidArgument || !strings.Contains(s.Message(), tc.words) {
			t.Errorf("%s with %q: %v %q, want InvalidArgument saying %q", tc.method, tc.body, s.Code(), s.Message(), tc.words)
		}
	}
	if ready, err := pb.NewGRPCInferenceServiceClient(conn).ServerReady(context.Background(), &pb.ServerReadyRequest{}); err != nil || !ready.GetReady() {
		t.Errorf("after bad messages, ServerReady: %v, %v", ready, err)
	}
}

// TestGRPCHealthWatchSendsTheStatusAndItsChanges: Watch answers the
// status at once and again when it changes (the database gone: not
// serving), and an unknown service is SERVICE_UNKNOWN on a call that
// stays open, as grpc.health.v1 asks.
func TestGRPCHealthWatchSendsTheStatusAndItsChanges(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	conn := grpcConn(t, newServer(t, st, false), grpcapi.Config{})
	h := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	unknown, err := h.Watch(ctx, &healthpb.HealthCheckRequest{Service: "nope"})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := unknown.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVICE_UNKNOWN {
		t.Errorf("watching an unknown service: %v, %v; want SERVICE_UNKNOWN", r.GetStatus(), err)
	}

	w, err := h.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := w.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first message: %v, %v; want SERVING", r.GetStatus(), err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if r, err := w.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("after the database closed: %v, %v; want NOT_SERVING", r.GetStatus(), err)
	}
	// The unknown service's call is still open: it ends with the caller.
	cancel()
	if _, err := unknown.Recv(); status.Code(err) != codes.Canceled {
		t.Errorf("the unknown service's watch after the caller left: %v, want Canceled", err)
	}
}
