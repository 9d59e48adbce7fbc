package onnx_test

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/mnist"
	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/onnx"
)

// compareImages is how many MNIST test images ONNX Runtime and the app
// must agree on.
const compareImages = 1000

// ortDir is the folder holding scripts/ort/ort.js and, once `npm install
// --ignore-scripts` ran there, onnxruntime-node.
func ortDir(tb testing.TB) string {
	tb.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "scripts", "ort"))
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

// TestONNXRuntimeGivesTheAppsProbabilities exports a trained model, runs
// it in ONNX Runtime (onnxruntime-node, CPU) and compares its
// probabilities with the app's on 1,000 test images.
func TestONNXRuntimeGivesTheAppsProbabilities(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the ONNX Runtime test needs node and onnxruntime-node (.ci/run installs both)")
	}
	dir := ortDir(t)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "onnxruntime-node")); err != nil {
		t.Skipf("onnxruntime-node is not installed: run `npm install --ignore-scripts` in %s (.ci/run does)", dir)
	}
	set, err := mnist.LoadTest(testutil.MNISTDir(t))
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() < compareImages {
		t.Skipf("the test set has %d images, the test compares %d: run `make data`", set.Len(), compareImages)
	}
	w := trained(t, set)
	meta := model.Meta{Version: "ort-test"}
	data, err := onnx.Marshal(w, meta)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	modelPath := filepath.Join(tmp, "model.onnx")
	imagesPath := filepath.Join(tmp, "images.f32")
	outPath := filepath.Join(tmp, "probs.f32")
	if err := os.WriteFile(modelPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	imgs := make([][]byte, compareImages)
	pix := make([]float32, 0, compareImages*model.Pixels)
	for i := range imgs {
		imgs[i] = set.Image(i)
		for _, v := range imgs[i] {
			pix = append(pix, float32(v)/255)
		}
	}
	writeFloats(t, imagesPath, pix)
	p := model.NewPredictor(w, meta)
	defer p.Close()
	want, err := p.Predict(context.Background(), imgs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(dir, "ort.js"), "probs", modelPath, imagesPath, "1000", outPath)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ONNX Runtime: %v\n%s", err, out)
	}
	got := readFloats(t, outPath)
	if len(got) != compareImages*model.Classes {
		t.Fatalf("ONNX Runtime gave %d probabilities, want %d", len(got), compareImages*model.Classes)
	}
	var worst float64
	agree := 0
	for i := range want {
		row := got[i*model.Classes : (i+1)*model.Classes]
		for d, wv := range want[i] {
			diff := math.Abs(float64(row[d] - wv))
			worst = max(worst, diff)
			if diff > 1e-4 {
				t.Fatalf("image %d digit %d: ONNX Runtime %v, app %v", i, d, row[d], wv)
			}
		}
		if model.Best([model.Classes]float32(row)) == model.Best(want[i]) {
			agree++
		}
	}
	if agree != compareImages {
		t.Errorf("ONNX Runtime and the app pick the same digit for %d of %d images", agree, compareImages)
	}
	t.Logf("largest difference over %d images: %.2g", compareImages, worst)
}

// trained returns weights after a few steps on the first images, so that
// the probabilities are far from uniform and a wrongly laid out kernel
// shows.
func trained(tb testing.TB, set *mnist.Set) *model.Weights {
	tb.Helper()
	const batch, steps = 64, 8
	w := model.NewWeights(3)
	tr, err := model.NewTrainer(w, batch, 0.002, 3, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer tr.Close()
	x, y := tr.Input()
	idx := make([]int, batch)
	lbl := make([]byte, batch)
	for s := 0; s < steps; s++ {
		for i := range idx {
			idx[i] = s*batch + i
		}
		set.Fill(idx, x, lbl)
		for i, l := range lbl {
			y[i] = float32(l)
		}
		if _, _, err := tr.Step(); err != nil {
			tb.Fatal(err)
		}
	}
	return w
}

func writeFloats(tb testing.TB, path string, v []float32) {
	tb.Helper()
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

func readFloats(tb testing.TB, path string) []float32 {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}
