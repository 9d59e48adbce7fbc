package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/mnist"
	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/registry"
	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
	"github.com/mnistserve/app/train"
)

// trainSmallModel trains a model on a slice of real MNIST, small enough to
// take seconds, good enough to read most digits, and loads it.
func trainSmallModel(t *testing.T) *model.Predictor {
	t.Helper()
	cfg := train.DefaultConfig()
	cfg.DataDir = testutil.MNISTDir(t)
	cfg.ModelDir = t.TempDir()
	cfg.Epochs = 2
	cfg.Limit = 6000
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	meta, err := train.Run(ctx, cfg, train.Hooks{})
	if err != nil {
		t.Fatalf("train: %v", err)
	}
	t.Logf("trained model %s in %v: test accuracy %.4f", meta.Version, time.Since(start).Round(time.Millisecond), meta.TestAccuracy)
	p, err := registry.New(registry.NewFolder(cfg.ModelDir), nil).Predictor(context.Background())
	if err != nil {
		t.Fatalf("load the trained model: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestEndToEndOnRealMNIST serves a model trained here, over a real socket,
// and posts the first 100 test images in the original clients' JSON body.
func TestEndToEndOnRealMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping training a model")
	}
	testSet, err := mnist.LoadTest(testutil.MNISTDir(t))
	if err != nil {
		t.Fatalf("load MNIST test set: %v", err)
	}
	pred := trainSmallModel(t)

	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		s := newServer(t, st, pred)
		base, _, _ := startServer(t, s)
		client := checkedClient(t, 30*time.Second)

		const n = 100
		right := 0
		answers := make([]prediction, n)
		for i := range n {
			img := testSet.Image(i)
			body := mustJSON(t, map[string]any{"image": rows(img)})
			resp, err := client.Post(base+"/predict", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatalf("POST /predict: %v", err)
			}
			var p prediction
			err = json.NewDecoder(resp.Body).Decode(&p)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || err != nil {
				t.Fatalf("image %d: status %d, decode %v", i, resp.StatusCode, err)
			}
			if p.ModelVersion != pred.Version() || p.Confidence != p.Probabilities[p.Prediction] {
				t.Errorf("image %d: answer %+v does not hold together", i, p)
			}
			if p.Prediction == int(testSet.Labels[i]) {
				right++
			}
			answers[i] = p
		}
		t.Logf("%d of %d right", right, n)
		if right < 90 {
			t.Errorf("%d of %d right, want at least 90", right, n)
		}

		for i, p := range answers {
			var d detail
			getJSON(t, client, base+"/predictions/"+itoa(p.ID), &d)
			if d.Prediction != p.Prediction || d.Probabilities != p.Probabilities || d.ModelVersion != p.ModelVersion {
				t.Errorf("image %d: read back %+v, answered %+v", i, d, p)
			}
			resp, err := client.Get(base + d.ImageURL)
			if err != nil {
				t.Fatalf("GET %s: %v", d.ImageURL, err)
			}
			png, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: status %d", d.ImageURL, resp.StatusCode)
			}
			if !bytes.Equal(pngPixels(t, png), testSet.Image(i)) {
				t.Errorf("image %d: image.png pixels differ from the ones sent", i)
			}
		}
		if got := count(t, st); got != n {
			t.Errorf("%d rows stored, want %d", got, n)
		}
	})
}

// getJSON GETs url and decodes its 200 answer into v.
func getJSON(t *testing.T, client *http.Client, url string, v any) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: decode: %v", url, err)
	}
}
