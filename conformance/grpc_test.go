package conformance

import (
	"context"
	"encoding/binary"
	"math"
	"net"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/mnistserve/app/grpcapi"
	"github.com/mnistserve/app/keys"
	pb "github.com/mnistserve/app/proto/inference"
	"github.com/mnistserve/app/serve"
)

// grpcConns holds one gRPC server and connection per HTTP server under
// test, so that every client of a test shares them.
var grpcConns sync.Map // *serve.Server -> *grpc.ClientConn

// grpcConn starts the gRPC face of srv on an in-memory listener (no port
// on the machine) with srv's keys, and connects to it.
func grpcConn(tb testing.TB, srv *serve.Server, cfg grpcapi.Config) *grpc.ClientConn {
	tb.Helper()
	if c, ok := grpcConns.Load(srv); ok {
		return c.(*grpc.ClientConn)
	}
	ln := bufconn.Listen(1 << 20)
	rpc := grpcapi.New(srv.OIP(), cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rpc.Serve(ctx, ln) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	grpcConns.Store(srv, conn)
	tb.Cleanup(func() {
		grpcConns.Delete(srv)
		_ = conn.Close()
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("gRPC server: %v", err)
		}
	})
	return conn
}

// grpcClientFor is the gRPC transport of the conformance tests: the
// server's keys are those of newServer.
func grpcClientFor(tb testing.TB, srv *serve.Server, token string) client {
	cfg := grpcapi.Config{Keys: keyring{
		predictToken: {Name: "alice", Role: keys.RolePredict},
		adminToken:   {Name: "root", Role: keys.RoleAdmin},
		guestToken:   {Name: "guest", Role: keys.Role("viewer")},
	}, MaxMessage: 16 << 20}
	if !srv.KeysOn() {
		cfg.Keys = nil
	}
	return &grpcClient{tb: tb, c: pb.NewGRPCInferenceServiceClient(grpcConn(tb, srv, cfg)), token: token}
}

// grpcClient speaks the protocol's gRPC binding.
type grpcClient struct {
	tb    testing.TB
	c     pb.GRPCInferenceServiceClient
	token string
}

// ctx carries the token as authorization metadata.
func (c *grpcClient) ctx() context.Context {
	ctx := context.Background()
	if c.token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token)
	}
	return ctx
}

// grpcError turns a status into the protocol's kind of error.
func grpcError(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	k := map[codes.Code]kind{
		codes.InvalidArgument: invalidArgument, codes.NotFound: notFound,
		codes.Unauthenticated: unauthenticated, codes.PermissionDenied: permissionDenied,
		codes.ResourceExhausted: exhausted, codes.Unavailable: unavailable,
	}[st.Code()]
	if k == "" {
		k = kind("internal (" + st.Code().String() + ")")
	}
	return &protoError{Kind: k, Message: st.Message()}
}

func (c *grpcClient) Live() (bool, error) {
	r, err := c.c.ServerLive(c.ctx(), &pb.ServerLiveRequest{})
	if err != nil {
		return false, grpcError(err)
	}
	return r.GetLive(), nil
}

func (c *grpcClient) Ready() (bool, error) {
	r, err := c.c.ServerReady(c.ctx(), &pb.ServerReadyRequest{})
	if err != nil {
		return false, grpcError(err)
	}
	return r.GetReady(), nil
}

func (c *grpcClient) ServerMetadata() (serverMetadata, error) {
	r, err := c.c.ServerMetadata(c.ctx(), &pb.ServerMetadataRequest{})
	if err != nil {
		return serverMetadata{}, grpcError(err)
	}
	return serverMetadata{Name: r.GetName(), Version: r.GetVersion(), Extensions: r.GetExtensions()}, nil
}

func (c *grpcClient) ModelMetadata(name, version string) (modelMetadata, error) {
	r, err := c.c.ModelMetadata(c.ctx(), &pb.ModelMetadataRequest{Name: name, Version: version})
	if err != nil {
		return modelMetadata{}, grpcError(err)
	}
	tensors := func(ts []*pb.ModelMetadataResponse_TensorMetadata) []tensorMetadata {
		var out []tensorMetadata
		for _, t := range ts {
			out = append(out, tensorMetadata{Name: t.GetName(), Datatype: t.GetDatatype(), Shape: t.GetShape()})
		}
		return out
	}
	return modelMetadata{Name: r.GetName(), Versions: r.GetVersions(), Platform: r.GetPlatform(),
		Inputs: tensors(r.GetInputs()), Outputs: tensors(r.GetOutputs())}, nil
}

func (c *grpcClient) ModelReady(name, version string) (bool, error) {
	r, err := c.c.ModelReady(c.ctx(), &pb.ModelReadyRequest{Name: name, Version: version})
	if err != nil {
		return false, grpcError(err)
	}
	return r.GetReady(), nil
}

// grpcRequest builds the ModelInferRequest for req: typed contents, or
// raw_input_contents with req.Binary. Nested data has no gRPC form (the
// contents are always flat), so it travels flat.
func grpcRequest(name, version string, req request) *pb.ModelInferRequest {
	in := &pb.ModelInferRequest_InferInputTensor{Name: req.Name, Datatype: req.Datatype, Shape: req.Shape}
	msg := &pb.ModelInferRequest{ModelName: name, ModelVersion: version, Id: req.ID, Inputs: []*pb.ModelInferRequest_InferInputTensor{in}}
	switch {
	case req.NoData:
	case req.Binary:
		var raw []byte
		for _, v := range req.Values {
			if req.Datatype == "FP32" {
				raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(float32(v)))
			} else {
				raw = append(raw, byte(v))
			}
		}
		msg.RawInputContents = [][]byte{raw}
	case req.Datatype == "FP32":
		c := &pb.InferTensorContents{}
		for _, v := range req.Values {
			c.Fp32Contents = append(c.Fp32Contents, float32(v))
		}
		in.Contents = c
	default:
		c := &pb.InferTensorContents{}
		for _, v := range req.Values {
			c.UintContents = append(c.UintContents, uint32(v))
		}
		in.Contents = c
	}
	for _, o := range req.Outputs {
		msg.Outputs = append(msg.Outputs, &pb.ModelInferRequest_InferRequestedOutputTensor{Name: o})
	}
	return msg
}

func (c *grpcClient) Infer(name, version string, req request) (*response, error) {
	r, err := c.c.ModelInfer(c.ctx(), grpcRequest(name, version, req))
	if err != nil {
		return nil, grpcError(err)
	}
	return readGRPCResponse(c.tb, r), nil
}

// readGRPCResponse reads outputs from contents or raw_output_contents.
func readGRPCResponse(tb testing.TB, r *pb.ModelInferResponse) *response {
	tb.Helper()
	res := &response{ModelName: r.GetModelName(), ModelVersion: r.GetModelVersion(), ID: r.GetId(),
		IDs: r.GetParameters()["prediction_ids"].GetStringParam()}
	raw := r.GetRawOutputContents()
	if len(raw) > 0 && len(raw) != len(r.GetOutputs()) {
		tb.Fatalf("%d raw_output_contents for %d outputs", len(raw), len(r.GetOutputs()))
	}
	for i, o := range r.GetOutputs() {
		out := output{Name: o.GetName(), Datatype: o.GetDatatype(), Shape: o.GetShape()}
		if len(raw) > 0 {
			data := raw[i]
			for k := 0; k < len(data); {
				if out.Datatype == "FP32" {
					out.FP32 = append(out.FP32, math.Float32frombits(binary.LittleEndian.Uint32(data[k:])))
					k += 4
				} else {
					out.INT64 = append(out.INT64, int64(binary.LittleEndian.Uint64(data[k:])))
					k += 8
				}
			}
		} else {
			out.FP32 = o.GetContents().GetFp32Contents()
			out.INT64 = o.GetContents().GetInt64Contents()
		}
		res.Outputs = append(res.Outputs, out)
	}
	return res
}
