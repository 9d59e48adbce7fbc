package main

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/mnist"
	"github.com/mnistserve/app/train"
)

// trainedModels trains a small model on real MNIST into a new folder.
func trainedModels(t *testing.T) string {
	t.Helper()
	cfg := train.DefaultConfig()
	cfg.DataDir, cfg.ModelDir, cfg.Epochs, cfg.Limit = testutil.MNISTDir(t), t.TempDir(), 2, 6000
	if _, err := train.Run(context.Background(), cfg, train.Hooks{}); err != nil {
		t.Fatal(err)
	}
	return cfg.ModelDir
}

// writeDigitPNG writes MNIST test image i as a black-on-white PNG four
// times its size, as a person's scan might be, and returns its label.
func writeDigitPNG(t *testing.T, test *mnist.Set, i int, path string) int {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 112, 112))
	px := test.Image(i)
	for y := 0; y < 112; y++ {
		for x := 0; x < 112; x++ {
			img.SetGray(x, y, color.Gray{Y: 255 - px[(y/4)*28+x/4]})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	return int(test.Labels[i])
}

func TestPredictAndEvalCommands(t *testing.T) {
	models := trainedModels(t)
	test, err := mnist.LoadTest(testutil.MNISTDir(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var files []string
	var labels []int
	for i := 0; i < 5; i++ {
		p := filepath.Join(dir, "digit"+strconv.Itoa(i)+".png")
		labels = append(labels, writeDigitPNG(t, test, i, p))
		files = append(files, p)
	}
	notImage := filepath.Join(dir, "notes.txt")
	os.WriteFile(notImage, []byte("hello"), 0o644)

	t.Run("predict names the right digit for scanned MNIST digits", func(t *testing.T) {
		var out, errb bytes.Buffer
		if code := dispatch(context.Background(), append([]string{"predict", "--models", models}, files...), &out, &errb); code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != len(files) {
			t.Fatalf("%d lines for %d files:\n%s", len(lines), len(files), out.String())
		}
		right := 0
		for i, l := range lines {
			if strings.HasPrefix(l, files[i]+": "+strconv.Itoa(labels[i])+" ") {
				right++
			}
		}
		if right < 4 {
			t.Errorf("%d of 5 right:\n%s", right, out.String())
		}
	})
	t.Run("predict refuses a file that is not an image, naming it", func(t *testing.T) {
		var out, errb bytes.Buffer
		code := dispatch(context.Background(), []string{"predict", "--models", models, notImage}, &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), "notes.txt") {
			t.Errorf("exit %d, stderr %q: want 1 naming notes.txt", code, errb.String())
		}
	})
	t.Run("predict without a model says to train one", func(t *testing.T) {
		var out, errb bytes.Buffer
		code := dispatch(context.Background(), []string{"predict", "--models", t.TempDir(), files[0]}, &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), "app train") {
			t.Errorf("exit %d, stderr %q: want 1 suggesting app train", code, errb.String())
		}
	})
	t.Run("eval prints the test accuracy of the saved model", func(t *testing.T) {
		var out, errb bytes.Buffer
		code := dispatch(context.Background(), []string{"eval", "--models", models, "--data", testutil.MNISTDir(t)}, &out, &errb)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		var acc float64
		for _, l := range strings.Split(out.String(), "\n") {
			if rest, ok := strings.CutPrefix(l, "test accuracy "); ok {
				acc, _ = strconv.ParseFloat(strings.Fields(rest)[0], 64)
			}
		}
		if acc < 0.88 {
			t.Errorf("eval reported accuracy %v, want at least 0.88:\n%s", acc, out.String())
		}
		// Then the robustness sets, each a score: even this small model
		// reads most off-centre digits (a broken set would score about 0.1).
		var offCentre float64
		for _, l := range strings.Split(out.String(), "\n") {
			if rest, ok := strings.CutPrefix(l, "robustness (through the upload path): "); ok {
				f := strings.Fields(rest)
				for i := 0; i+1 < len(f); i += 2 {
					if f[i] == "offcentre" {
						offCentre, _ = strconv.ParseFloat(f[i+1], 64)
					}
				}
			}
		}
		if offCentre < 0.5 {
			t.Errorf("eval reported off-centre accuracy %v, want a robustness line with at least 0.5:\n%s", offCentre, out.String())
		}
	})
}

// TestPredictAndEvalWithoutAModelSayToTrainOnce: with no model, predict
// and eval exit 1 saying to train one, once (it was said twice).
func TestPredictAndEvalWithoutAModelSayToTrainOnce(t *testing.T) {
	empty := t.TempDir()
	for _, args := range [][]string{
		{"predict", "--models", empty, "x.png"},
		{"eval", "--models", empty, "--data", testutil.MNISTFixture(t)},
	} {
		code, out := runApp(t, args...)
		if n := strings.Count(out, "train one with `app train`"); code != 1 || n != 1 {
			t.Errorf("%v: exit %d, the hint %d times, want 1 and once:\n%s", args, code, n, out)
		}
	}
}
