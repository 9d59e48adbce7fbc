package grpcapi

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/oip"
	"github.com/mnistserve/app/pipeline"
	pb "github.com/mnistserve/app/proto/inference"
	"github.com/mnistserve/app/store"
)

// firstPixelModel answers digit img[0] % 10 with probability 0.91 for each
// image, so a test picks the answer through the first pixel.
type firstPixelModel struct{}

func (firstPixelModel) Predict(_ context.Context, images [][]byte) ([][model.Classes]float32, error) {
	out := make([][model.Classes]float32, len(images))
	for i, img := range images {
		for d := range out[i] {
			out[i][d] = 0.01
		}
		out[i][img[0]%10] = 0.91
	}
	return out, nil
}

func (firstPixelModel) Meta() model.Meta { return model.Meta{Version: "v1"} }

// models serves firstPixelModel as the only version.
type models struct{}

func (models) Served() (pipeline.Model, error) { return firstPixelModel{}, nil }
func (models) Version(context.Context, string) (pipeline.Model, error) {
	return nil, model.ErrUnknownVersion
}
func (models) Versions() ([]string, error) { return []string{"v1"}, nil }

// memStore numbers the rows it is given from 1, as a database would.
type memStore struct{ next atomic.Int64 }

func (s *memStore) Create(_ context.Context, ps []*store.Prediction) error {
	for _, p := range ps {
		p.ID = s.next.Add(1)
	}
	return nil
}

// startServer serves cfg's gRPC server over the pipeline on a loopback
// port and returns a client connected to it; both stop with the test.
func startServer(tb testing.TB, cfg Config, pcfg pipeline.Config, st pipeline.Store) pb.GRPCInferenceServiceClient {
	tb.Helper()
	return startLogged(tb, cfg, pcfg, st, nil)
}

// startLogged is startServer with the server's log going to logger.
func startLogged(tb testing.TB, cfg Config, pcfg pipeline.Config, st pipeline.Store, logger *slog.Logger) pb.GRPCInferenceServiceClient {
	tb.Helper()
	p := pipeline.New(pcfg, func() (pipeline.Model, error) { return firstPixelModel{}, nil }, st, pipeline.Hooks{})
	svc := &oip.Service{Pipeline: p, Models: models{}, Ready: func(context.Context) error { return nil }, Version: "test"}
	srv := New(svc, cfg, logger)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ctx, ln); err != nil {
			tb.Error(err)
		}
	})
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		conn.Close()
		cancel()
		wg.Wait()
		p.Close()
	})
	return pb.NewGRPCInferenceServiceClient(conn)
}

// rawRequest is a ModelInfer request of one UINT8 image in
// raw_input_contents whose first pixel is first.
func rawRequest(first byte) *pb.ModelInferRequest {
	img := make([]byte, 784)
	img[0] = first
	return &pb.ModelInferRequest{
		ModelName:        oip.ModelName,
		Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: oip.InputName, Datatype: "UINT8", Shape: []int64{1, 784}}},
		RawInputContents: [][]byte{img},
	}
}
