package model

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkTrainStep measures one training step at batch 128: forward,
// backward and the Adam update. Compare images/s with the PyTorch
// reference (../shared/bench/torch_reference.py) run in the same sitting.
func BenchmarkTrainStep(b *testing.B) {
	set := loadTest(b)
	w := NewWeights(1)
	tr, err := NewTrainer(w, 128, 0.001, 1, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	fillFirst(set, tr)
	if _, _, err := tr.Step(); err != nil { // warm up: first-use allocations
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := tr.Step(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(128*float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkPredict measures inference through the predictor's pool at
// batch 1 (latency) and batch 64 (throughput), from one goroutine, with
// PredictInto: the predict path allocates nothing (0 allocs/op) at one
// worker; with GOMAXPROCS > 1 batch 64 starts a goroutine per core.
// scripts/bench-onnx.sh runs it under GOMAXPROCS=1 beside ONNX Runtime.
func BenchmarkPredict(b *testing.B) {
	set := loadTest(b)
	p := NewPredictor(NewWeights(1), Meta{})
	defer p.Close()
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			imgs := images(set, 0, n)
			out := make([][Classes]float32, n)
			ctx := context.Background()
			if err := p.PredictInto(ctx, imgs, out); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			for i := 0; i < b.N; i++ {
				if err := p.PredictInto(ctx, imgs, out); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}
