package train

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/model"
)

// TestRunTrainsAModelAboveTheBar trains on 6,000 real MNIST images for two
// epochs. An untrained network scores about 0.10; the same settings reach
// about 0.93, so 0.88 fails only when learning is broken.
func TestRunTrainsAModelAboveTheBar(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = testutil.MNISTDir(t)
	cfg.ModelDir = t.TempDir()
	cfg.Epochs = 2
	cfg.Limit = 6000
	var out bytes.Buffer
	meta, err := Run(context.Background(), cfg, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if meta.TestAccuracy < 0.88 {
		t.Errorf("test accuracy %.4f, want at least 0.88", meta.TestAccuracy)
	}
	if meta.TrainImages != 5400 || meta.Epochs != 2 || meta.TrainSeconds <= 0 || meta.Version == "" {
		t.Errorf("metadata incomplete: %+v", meta)
	}
	for _, want := range []string{"epoch 1/2: loss", "epoch 2/2: loss", "val_acc", "images/s", "test accuracy", "confusion matrix"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	p, err := model.LoadPredictor(cfg.ModelDir)
	if err != nil {
		t.Fatalf("the saved model does not load: %v", err)
	}
	defer p.Close()
	if p.Version() != meta.Version {
		t.Errorf("loaded %q, saved %q", p.Version(), meta.Version)
	}
}

func TestRunRefusesBadData(t *testing.T) {
	src := testutil.MNISTDir(t)
	cases := []struct {
		name, file string
		damage     func([]byte) []byte
		wantInErr  string
	}{
		{"a truncated image file is named", "t10k-images-idx3-ubyte", func(b []byte) []byte { return b[:5000] }, "t10k-images-idx3-ubyte"},
		{"a wrong magic number is named", "train-labels-idx1-ubyte", func(b []byte) []byte { b[3] = 0x03; return b }, "train-labels-idx1-ubyte"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"} {
				data, err := os.ReadFile(filepath.Join(src, f+".gz"))
				if err != nil {
					t.Fatal(err)
				}
				name := f + ".gz"
				if f == c.file {
					data = c.damage(gunzip(t, data))
					name = f
				}
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cfg := DefaultConfig()
			cfg.DataDir, cfg.ModelDir, cfg.Epochs = dir, t.TempDir(), 1
			_, err := Run(context.Background(), cfg, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), c.wantInErr) {
				t.Fatalf("got %v, want an error naming %s", err, c.wantInErr)
			}
			if entries, _ := os.ReadDir(cfg.ModelDir); len(entries) != 0 {
				t.Errorf("a model was written from bad data")
			}
		})
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = testutil.MNISTDir(t)
	cfg.ModelDir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, cfg, &bytes.Buffer{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if entries, _ := os.ReadDir(cfg.ModelDir); len(entries) != 0 {
		t.Errorf("a cancelled run wrote a model")
	}
}

func TestConfigValidateRefusesOutOfRangeSettings(t *testing.T) {
	cases := map[string]func(*Config){
		"zero epochs":        func(c *Config) { c.Epochs = 0 },
		"zero batch":         func(c *Config) { c.Batch = 0 },
		"huge batch":         func(c *Config) { c.Batch = 100000 },
		"negative lr":        func(c *Config) { c.LR = -1 },
		"negative limit":     func(c *Config) { c.Limit = -5 },
		"empty model folder": func(c *Config) { c.ModelDir = "" },
	}
	for name, mutate := range cases {
		t.Run(name+" is refused", func(t *testing.T) {
			c := DefaultConfig()
			mutate(&c)
			if err := c.Validate(); !errors.Is(err, ErrConfig) {
				t.Fatalf("got %v, want ErrConfig", err)
			}
		})
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
}
