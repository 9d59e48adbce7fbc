package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/registry"
	"github.com/mnistserve/app/serve"
	"github.com/mnistserve/app/store"
)

// liveHeap is the heap still in use after a full collection.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// loadServer posts single and 64-image batch predictions to srv from a few
// goroutines until stop is closed, counting answers that were not 200.
func loadServer(srv *serve.Server, stop <-chan struct{}, failed *atomic.Int64, first *atomic.Value) *sync.WaitGroup {
	img := make([]int, 784)
	for i := 300; i < 500; i++ {
		img[i] = 255
	}
	one, _ := json.Marshal(map[string]any{"image": img})
	imgs := make([][]int, 64)
	for i := range imgs {
		imgs[i] = img
	}
	batch, _ := json.Marshal(map[string]any{"images": imgs})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			path, body := "/predict", one
			if g%2 == 1 {
				path, body = "/predict/batch", batch
			}
			for {
				select {
				case <-stop:
					return
				default:
				}
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				srv.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					failed.Add(1)
					first.CompareAndSwap(nil, fmt.Sprintf("%s: %d %s", path, rec.Code, rec.Body.String()))
				}
			}
		})
	}
	return &wg
}

func TestPromoteAndRollbackUnderLoadReleaseTheOldModel(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping 20 model swaps under load")
	}
	dir := t.TempDir()
	models := filepath.Join(dir, "models")
	a := saveModel(t, models, 1, time.Now().Add(-time.Hour))
	b := saveModel(t, models, 2, time.Now())
	logger := slog.New(slog.DiscardHandler)
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(dir, "p.db"), logger)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := serve.New(serve.Config{}, st, logger)
	base := liveHeap()

	k := registry.NewKeeper(registry.New(registry.NewFolder(models), logger), func(p *model.Predictor) { srv.SetModel(p) }, srv.SetStatus, logger)
	defer k.Close()
	srv.SetCatalog(k)
	if err := k.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	var failed atomic.Int64
	var firstFailure atomic.Value
	run := func(d time.Duration, during func()) {
		stop := make(chan struct{})
		wg := loadServer(srv, stop, &failed, &firstFailure)
		if during != nil {
			during()
		}
		time.Sleep(d)
		close(stop)
		wg.Wait()
	}
	// Warm: every machine the load needs is built and pooled.
	run(time.Second, nil)
	one := liveHeap()
	modelBytes := int64(one) - int64(base)

	post := func(path string) {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body.String())
		}
	}
	const swaps = 20
	run(300*time.Millisecond, func() {
		for range swaps / 2 {
			post("/models/" + a.Version + "/promote")
			time.Sleep(50 * time.Millisecond) // let the load build the promoted model's machines
			post("/models/rollback")
			time.Sleep(50 * time.Millisecond)
		}
	})
	if n := failed.Load(); n > 0 {
		t.Errorf("%d requests failed during the swaps; first: %v", n, firstFailure.Load())
	}
	if v := k.Version(); v != b.Version {
		t.Errorf("after %d swaps serving %s, want %s", swaps, v, b.Version)
	}
	after := liveHeap()
	grown := int64(after) - int64(base)
	t.Logf("live heap: %d KiB without a model, %d KiB with one warmed model (%d KiB), %d KiB after %d swaps under load (%d KiB)",
		base>>10, one>>10, modelBytes>>10, after>>10, swaps, grown>>10)
	if float64(grown) > 1.2*float64(modelBytes) {
		t.Errorf("after %d swaps the models hold %d KiB of live heap, want within 20%% of one model's %d KiB", swaps, grown>>10, modelBytes>>10)
	}
}
