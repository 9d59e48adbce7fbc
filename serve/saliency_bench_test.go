package serve

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/mnist"
	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/store/storetest"
)

// BenchmarkSaliency asks GET /predictions/:id/saliency.png of stored MNIST
// test digits through the whole server (access, SQLite read, occlusion on
// the real kernels, PNG at the default 224x224) and reports the p50 and
// p99 of one request besides the mean, and the CPU time it takes (all
// threads), which a busy machine does not inflate as it does wall time. Untrained weights cost the same
// as trained ones; the digits decide how many patches touch ink.
func BenchmarkSaliency(b *testing.B) {
	test, err := mnist.LoadTest(testutil.MNISTFixture(b))
	if err != nil {
		b.Fatal(err)
	}
	st, _ := storetest.Open(b, "sqlite")
	m := model.NewPredictor(model.NewWeights(1), model.Meta{Version: "bench"})
	defer m.Close()
	s := newServer(b, st, m)
	const digits = 20
	var ids []int64
	for i := range digits {
		ids = append(ids, storeBy(b, st, "bench", test.Image(i), int(test.Labels[i])))
	}
	took := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; b.Loop(); i++ {
		req := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/predictions/%d/saliency.png", ids[i%digits]), nil)
		rec := httptest.NewRecorder()
		start := time.Now()
		s.ServeHTTP(rec, req)
		took = append(took, time.Since(start))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
	}
	b.ReportMetric(float64(processCPU()-cpu)/1e6/float64(len(took)), "cpu-ms/op")
	slices.Sort(took)
	q := func(p float64) float64 { return float64(took[int(p*float64(len(took)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}
