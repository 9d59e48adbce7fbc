package model

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/mnist"
)

// trainSteps trains fresh weights from seed for steps batches of the
// first MNIST training images and returns them.
func trainSteps(tb testing.TB, set *mnist.Set, seed uint64, steps int) *Weights {
	tb.Helper()
	return trainStepsOn(tb, set, seed, steps, 2)
}

// trainStepsOn is trainSteps with workers goroutines per step.
func trainStepsOn(tb testing.TB, set *mnist.Set, seed uint64, steps, workers int) *Weights {
	tb.Helper()
	w := NewWeights(seed)
	tr, err := NewTrainer(w, 64, 0.001, seed, workers)
	if err != nil {
		tb.Fatal(err)
	}
	defer tr.Close()
	x, y := tr.Input()
	order := mnist.Permutation(set.Len(), seed)
	lbl := make([]byte, 64)
	for s := 0; s < steps; s++ {
		set.Fill(order[s*64:(s+1)*64], x, lbl)
		for i, l := range lbl {
			y[i] = float32(l)
		}
		if _, _, err := tr.Step(); err != nil {
			tb.Fatal(err)
		}
	}
	return w
}

// loadTest returns the test images of the committed MNIST fixture: a few
// hundred real digits, enough for the steps these tests take.
// fillFirst puts the first images of set and their labels in tr's input,
// a whole batch of them.
func fillFirst(set *mnist.Set, tr *Trainer) {
	x, y := tr.Input()
	lbl := make([]byte, tr.Batch())
	idx := make([]int, tr.Batch())
	for i := range idx {
		idx[i] = i
	}
	set.Fill(idx, x, lbl)
	for i, l := range lbl {
		y[i] = float32(l)
	}
}

func loadTest(tb testing.TB) *mnist.Set {
	tb.Helper()
	test, err := mnist.LoadTest(testutil.MNISTFixture(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return test
}

func images(set *mnist.Set, lo, hi int) [][]byte {
	var out [][]byte
	for i := lo; i < hi; i++ {
		out = append(out, set.Image(i))
	}
	return out
}

func TestSameSeedGivesIdenticalWeights(t *testing.T) {
	set := loadTest(t)
	a := trainStepsOn(t, set, 5, 4, 1)
	// The worker count must not matter, bit for bit: 2 and 3 split the
	// batch unevenly, 16 oversubscribes this machine's cores.
	for _, workers := range []int{2, 3, 16} {
		b := trainStepsOn(t, set, 5, 4, workers)
		for i, p := range a.tensors() {
			q := b.tensors()[i]
			for j := range p.data {
				if math.Float32bits(p.data[j]) != math.Float32bits(q.data[j]) {
					t.Fatalf("%s[%d]: %v with 1 worker, %v with %d, from the same seed", p.name, j, p.data[j], q.data[j], workers)
				}
			}
		}
	}
	c := trainSteps(t, set, 6, 4)
	if a.DenseW[0] == c.DenseW[0] && a.Conv2W[0] == c.Conv2W[0] {
		t.Errorf("seeds 5 and 6 gave the same weights")
	}
	if a.DenseW[0] == NewWeights(5).DenseW[0] {
		t.Errorf("training did not change the weights")
	}
}

func TestSavedModelLoadsWithIdenticalPredictions(t *testing.T) {
	set := loadTest(t)
	w := trainSteps(t, set, 1, 4)
	dir := t.TempDir()
	meta, err := Save(dir, w, Meta{Epochs: 1, TrainImages: 256, TestAccuracy: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	for name, ok := range map[string]bool{
		"version": meta.Version != "", "architecture": meta.Architecture != "", "created_at": !meta.CreatedAt.IsZero(),
		"weights_sha256": len(meta.WeightsSHA256) == 64, "parameters": meta.Parameters == 34826,
	} {
		if !ok {
			t.Errorf("saved metadata lacks %s: %+v", name, meta)
		}
	}
	lw, lm, err := Load(filepath.Join(dir, meta.Version+".json"))
	if err != nil {
		t.Fatal(err)
	}
	p := NewPredictor(lw, lm)
	defer p.Close()
	if p.Version() != meta.Version {
		t.Errorf("loaded version %q, want %q", p.Version(), meta.Version)
	}
	imgs := images(set, 0, 20)
	got, err := p.Predict(context.Background(), imgs)
	if err != nil {
		t.Fatal(err)
	}
	want, err := NewPredictor(w, meta).Predict(context.Background(), imgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 20 {
		t.Fatalf("%d answers for 20 images", len(got))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("image %d: loaded model gives %v, trained one %v", i, got[i], want[i])
		}
	}
}

func TestDamagedModelFilesAreRefused(t *testing.T) {
	set := loadTest(t)
	w := trainSteps(t, set, 1, 1)
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string, m Meta)
	}{
		{"a flipped byte fails the checksum", func(t *testing.T, dir string, m Meta) {
			p := filepath.Join(dir, m.WeightsFile)
			data, _ := os.ReadFile(p)
			data[100] ^= 1
			os.WriteFile(p, data, 0o644)
		}},
		{"a truncated weights file is refused", func(t *testing.T, dir string, m Meta) {
			p := filepath.Join(dir, m.WeightsFile)
			data, _ := os.ReadFile(p)
			os.WriteFile(p, data[:len(data)-10], 0o644)
		}},
		{"a missing weights file is refused", func(t *testing.T, dir string, m Meta) {
			os.Remove(filepath.Join(dir, m.WeightsFile))
		}},
		{"metadata that is not JSON is refused", func(t *testing.T, dir string, m Meta) {
			os.WriteFile(filepath.Join(dir, m.Version+".json"), []byte("{not json"), 0o644)
		}},
		{"a foreign file with a matching checksum is refused", func(t *testing.T, dir string, m Meta) {
			junk := make([]byte, 5000)
			for i := range junk {
				junk[i] = byte(rand.New(rand.NewPCG(uint64(i), 1)).Uint32())
			}
			os.WriteFile(filepath.Join(dir, m.WeightsFile), junk, 0o644)
			m.WeightsSHA256 = sha256Hex(junk)
			writeMeta(t, dir, m)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			m, err := Save(dir, w, Meta{})
			if err != nil {
				t.Fatal(err)
			}
			c.damage(t, dir, m)
			if _, _, err := Load(filepath.Join(dir, m.Version+".json")); err == nil {
				t.Fatal("Load accepted a damaged model")
			}
		})
	}
}

func TestConcurrentPredictMatchesSerial(t *testing.T) {
	set := loadTest(t)
	p := NewPredictor(trainSteps(t, set, 1, 3), Meta{Version: "t"})
	defer p.Close()
	ctx := context.Background()
	want, err := p.Predict(ctx, images(set, 0, 100))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 5; r++ {
				lo := (g*7 + r*13) % 90
				n := 1 + (g+r)%10 // batch sizes spread over several buckets
				got, err := p.Predict(ctx, images(set, lo, lo+n))
				if err != nil {
					errs <- err
					return
				}
				for i := range got {
					if got[i] != want[lo+i] {
						errs <- errors.New("a concurrent answer differs from the serial one")
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestPredictRefusesImagesOfTheWrongSize(t *testing.T) {
	p := NewPredictor(NewWeights(1), Meta{})
	defer p.Close()
	for _, n := range []int{0, 783, 785} {
		if _, err := p.Predict(context.Background(), [][]byte{make([]byte, n)}); !errors.Is(err, ErrBadImage) {
			t.Errorf("image of %d bytes: %v, want ErrBadImage", n, err)
		}
	}
}

func TestPredictionsAreProbabilities(t *testing.T) {
	set := loadTest(t)
	p := NewPredictor(trainSteps(t, set, 1, 2), Meta{})
	defer p.Close()
	got, err := p.Predict(context.Background(), images(set, 0, 70)) // two chunks
	if err != nil {
		t.Fatal(err)
	}
	for i, pr := range got {
		var sum float32
		for _, v := range pr {
			if v < 0 || v > 1 {
				t.Fatalf("image %d: probability %v", i, v)
			}
			sum += v
		}
		if sum < 0.999 || sum > 1.001 {
			t.Fatalf("image %d: probabilities sum to %v", i, sum)
		}
	}
}

func TestDrawMaskDropsAtTheDropoutRate(t *testing.T) {
	mask := make([]float32, 1<<16+5) // a last draw only partly used
	drawMask(mask, rand.New(rand.NewPCG(1, 2)))
	dropped := 0
	for i, m := range mask {
		switch m {
		case 0:
			dropped++
		case 1 / (1 - dropoutRate):
		default:
			t.Fatalf("mask[%d] = %v, want 0 or %v", i, m, 1/(1-dropoutRate))
		}
	}
	if rate := float64(dropped) / float64(len(mask)); math.Abs(rate-dropoutRate) > 0.01 {
		t.Fatalf("dropped %.4f of the values, want %v", rate, dropoutRate)
	}
}
