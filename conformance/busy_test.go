package conformance

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/mnistserve/app/grpcapi"
	"github.com/mnistserve/app/model"
	pb "github.com/mnistserve/app/proto/inference"
	"github.com/mnistserve/app/serve"
	"github.com/mnistserve/app/store/storetest"
)

// heldModel answers only once release is closed, holding the queue.
type heldModel struct {
	digitModel
	release chan struct{}
}

func (m *heldModel) Predict(ctx context.Context, images [][]byte) ([][model.Classes]float32, error) {
	<-m.release
	return m.digitModel.Predict(ctx, images)
}

func TestAFullQueueIsRefusedAtOnce(t *testing.T) {
	want := map[string]kind{"REST": unavailable, "gRPC": exhausted}
	for _, tr := range transports() {
		t.Run("over "+tr.name, func(t *testing.T) {
			st, _ := storetest.Open(t, "sqlite")
			m := &heldModel{digitModel: digitModel{version: servedVersion}, release: make(chan struct{})}
			srv := serve.New(serve.Config{QueueLength: 1, QueueLatency: 0}, st, nil)
			t.Cleanup(srv.Close)
			srv.SetModel(m)
			c := tr.client(t, srv, "")
			first := make(chan error, 1)
			go func() {
				_, err := c.Infer("mnist", "", oneImage("UINT8", []int64{1, 784}, 4))
				first <- err
			}()
			for deadline := time.Now().Add(5 * time.Second); !srv.OIP().Pipeline.Full(); time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the first request never took the only slot")
				}
			}
			_, err := c.Infer("mnist", "", oneImage("UINT8", []int64{1, 784}, 5))
			wantKind(t, err, want[tr.name], "busy")
			close(m.release)
			if err := <-first; err != nil {
				t.Errorf("the admitted request: %v", err)
			}
		})
	}
}

func TestGRPCStopsGracefullyFinishingCallsInFlight(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	m := &heldModel{digitModel: digitModel{version: servedVersion}, release: make(chan struct{})}
	srv := serve.New(serve.Config{}, st, nil)
	t.Cleanup(srv.Close)
	srv.SetModel(m)
	ln := bufconn.Listen(1 << 20)
	rpc := grpcapi.New(srv.OIP(), grpcapi.Config{}, nil)
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- rpc.Serve(ctx, ln) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &grpcClient{tb: t, c: pb.NewGRPCInferenceServiceClient(conn)}
	answered := make(chan *response, 1)
	go func() {
		res, err := c.Infer("mnist", "", oneImage("UINT8", []int64{1, 784}, 6))
		if err != nil {
			t.Errorf("the call in flight: %v", err)
		}
		answered <- res
	}()
	for deadline := time.Now().Add(5 * time.Second); srv.OIP().Pipeline.Depth() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the call never reached the pipeline")
		}
	}
	stop() // SIGTERM, as app serve sees it
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with a call in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(m.release)
	if res := <-answered; res != nil {
		checkStored(t, st, res, [][]byte{image(6)}, servedVersion, nil)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
