package grpcapi

import (
	"context"
	"runtime"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/mnistserve/app/pipeline"
)

// BenchmarkModelInfer is the gRPC path of one image with raw contents, over
// loopback TCP with 64 calls in flight (as scripts/load-oip.sh drives it),
// on a model and a store that cost almost nothing: what is left is the
// transport, the interceptors, decoding, the pipeline's hand-offs and
// encoding, client and server together. The metrics hook is set and the
// rate limit is not, as app serve sets them by default. cpu-us/op is the
// CPU time of client and server together per call, steadier than ns/op on
// a shared machine.
//
//	go test -run '^$' -bench ModelInfer -benchmem ./grpcapi/
func BenchmarkModelInfer(b *testing.B) {
	cfg := Config{
		Observe: func(context.Context, string, codes.Code, time.Duration) {},
	}
	client := startServer(b, cfg, pipeline.Config{Workers: 1, MaxBatch: 64, QueueLength: 256}, &memStore{})
	req := rawRequest(7)
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := client.ModelInfer(context.Background(), req)
			if err != nil {
				b.Error(err)
				return
			}
			if len(res.GetRawOutputContents()) != 2 {
				b.Errorf("%d raw outputs, want 2", len(res.GetRawOutputContents()))
				return
			}
		}
	})
	b.ReportMetric(float64(processCPU()-cpu0)/1e3/float64(b.N), "cpu-us/op")
}
