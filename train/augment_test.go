package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/mnist"
	"github.com/mnistserve/app/model"
)

// dot returns a 28x28 image black but for pixel (x, y).
func dot(x, y int) []float32 {
	img := make([]float32, mnist.Pixels)
	img[y*mnist.Side+x] = 1
	return img
}

// brightest returns the coordinates of the brightest pixel.
func brightest(img []float32) (int, int) {
	best := 0
	for i, v := range img {
		if v > img[best] {
			best = i
		}
	}
	return best % mnist.Side, best / mnist.Side
}

func TestAffineMovesPixelsWhereItSays(t *testing.T) {
	tests := []struct {
		name         string
		a            Affine
		x, y         int // a lit pixel
		wantX, wantY int // where it lands
	}{
		{"the identity keeps it", Affine{Scale: 1}, 20, 5, 20, 5},
		{"a shift moves it", Affine{Scale: 1, DX: 2, DY: -3}, 10, 10, 12, 7},
		// y grows downwards, so counter-clockwise on screen takes the
		// right of the centre (13.5) to the top.
		{"a quarter turn takes the right to the top", Affine{Angle: 90, Scale: 1}, 22, 13, 13, 5},
		{"a half turn mirrors through the centre", Affine{Angle: 180, Scale: 1}, 20, 5, 7, 22},
		{"scaling by 2 doubles the distance from the centre", Affine{Scale: 2}, 17, 13, 21, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := make([]float32, mnist.Pixels)
			tt.a.Apply(dst, dot(tt.x, tt.y))
			if x, y := brightest(dst); math.Abs(float64(x-tt.wantX)) > 1 || math.Abs(float64(y-tt.wantY)) > 1 {
				t.Errorf("pixel (%d,%d) went to (%d,%d), want (%d,%d)", tt.x, tt.y, x, y, tt.wantX, tt.wantY)
			}
		})
	}
	dst := make([]float32, mnist.Pixels)
	Affine{Scale: 1, DX: 40}.Apply(dst, dot(5, 5))
	for i, v := range dst {
		if v != 0 {
			t.Fatalf("shifted off the image, pixel %d is %v, want 0", i, v)
		}
	}
}

func TestAugmentedRunsRepeatWithTheSameSeed(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = testutil.MNISTFixture(t)
	cfg.Epochs = 1
	cfg.Augment = true
	cfg.Robustness = false
	var sums []string
	for _, workers := range []int{1, 3, 2, 1} {
		cfg.ModelDir = t.TempDir()
		cfg.Workers = workers
		if workers == 1 && len(sums) == 3 {
			cfg.Seed = 2
		}
		meta, err := Run(context.Background(), cfg, Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		if !meta.Augment {
			t.Error("metadata says augment false")
		}
		sums = append(sums, meta.WeightsSHA256)
	}
	if sums[0] != sums[1] || sums[0] != sums[2] {
		t.Errorf("the same seed gave different weights with 1, 3 and 2 workers: %s, %s, %s", sums[0], sums[1], sums[2])
	}
	if sums[3] == sums[0] {
		t.Error("seeds 1 and 2 gave the same augmented weights")
	}
}

func TestAugmentChangesTheImagesTrainedOn(t *testing.T) {
	x := make([]float32, 2*mnist.Pixels)
	copy(x, dot(10, 10))
	copy(x[mnist.Pixels:], dot(10, 10))
	augmentBatch(x, []byte{0, 0}, 2, 1, 1, 0, []*augmenter{newAugmenter()})
	a, b := x[:mnist.Pixels], x[mnist.Pixels:]
	same := true
	for i := range a {
		same = same && a[i] == b[i]
	}
	if same {
		t.Error("two images of one batch got the same transform")
	}
	if x, y := brightest(a); math.Abs(float64(x-10)) > 5 || math.Abs(float64(y-10)) > 5 {
		t.Errorf("a small augmentation moved (10,10) to (%d,%d)", x, y)
	}
}

func TestSplitFeedbackHoldsOutAFifthByID(t *testing.T) {
	var ls []Labelled
	for id := int64(1); id <= 20; id++ {
		img := make([]byte, mnist.Pixels)
		img[0] = byte(id)
		ls = append(ls, Labelled{ID: id, Image: img, Label: int(id % 10)})
	}
	tr, held := SplitFeedback(ls)
	if tr.Len() != 16 || held.Len() != 4 {
		t.Fatalf("split %d/%d, want 16/4", tr.Len(), held.Len())
	}
	for i := range held.Len() {
		id := held.Image(i)[0]
		if id%5 != 0 || int(held.Labels[i]) != int(id%10) {
			t.Errorf("held out id %d label %d, want ids that are multiples of 5 with their labels", id, held.Labels[i])
		}
	}
	if got := feedbackRepeats(5400, 400); got != 3 {
		t.Errorf("feedbackRepeats(5400, 400) = %d, want 3 (a quarter of the epoch)", got)
	}
	if got := feedbackRepeats(100, 400); got != 1 {
		t.Errorf("feedbackRepeats(100, 400) = %d, want at least 1", got)
	}
}

// BenchmarkAugmentBatch augments a batch of 128 test images with the
// default recipe on one goroutine per core, to set beside
// model.BenchmarkTrainStep (a step of the same batch).
func BenchmarkAugmentBatch(b *testing.B) {
	_, test, err := mnist.Load(testutil.MNISTDir(b))
	if err != nil {
		b.Fatal(err)
	}
	const n = 128
	x, lbl, idx := make([]float32, n*mnist.Pixels), make([]byte, n), make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	var workers []*augmenter
	for range runtime.GOMAXPROCS(0) {
		workers = append(workers, newAugmenter())
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		test.Fill(idx, x, lbl)
		augmentBatch(x, lbl, n, 1, 1, i, workers)
	}
}

func TestAugmentGivesTheSameBatchWhateverTheWorkers(t *testing.T) {
	_, test, err := mnist.Load(testutil.MNISTFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	const n = 37 // not a multiple of any worker count tried
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	var want []float32
	for _, workers := range []int{1, 2, 3, 8} {
		x, lbl := make([]float32, n*mnist.Pixels), make([]byte, n)
		test.Fill(idx, x, lbl)
		var gs []*augmenter
		for range workers {
			gs = append(gs, newAugmenter())
		}
		augmentBatch(x, lbl, n, 7, 2, 5, gs)
		if want == nil {
			want = x
			continue
		}
		for i := range x {
			if x[i] != want[i] {
				t.Fatalf("%d workers: pixel %d of the batch is %v, with one worker %v", workers, i, x[i], want[i])
			}
		}
	}
}

func TestStrokeAndResolutionChanges(t *testing.T) {
	total := func(img []float32) (s float32) {
		for _, v := range img {
			s += v
		}
		return s
	}
	img := bar()
	thick, thin := make([]float32, mnist.Pixels), make([]float32, mnist.Pixels)
	morph(thick, img, true)
	morph(thin, img, false)
	// The 2 px bar of 20 rows: 3 px and 21 rows thicker, 1 px and 19 rows thinner.
	if total(thick) != 63 || total(thin) != 19 {
		t.Errorf("ink thicker %v, thinner %v; want 63 and 19 from the bar's 40", total(thick), total(thin))
	}
	low := dot(14, 14)
	lowRes(low, make([]float32, augmentLowMax*augmentLowMax), 7)
	if low[14*mnist.Side+14] >= 0.5 || low[14*mnist.Side+16] == 0 {
		t.Errorf("at 7x7 a lone pixel keeps %v of its ink and lights its neighbour 2 px off by %v: want it spread",
			low[14*mnist.Side+14], low[14*mnist.Side+16])
	}
	if s := total(low); s < 0.7 || s > 1.3 {
		t.Errorf("lowering the resolution turned 1 unit of ink into %v", s)
	}
}

// BenchmarkStepWithAugment runs training steps at batch 128 on the test
// images, their batches prepared as runEpoch prepares them (prefetch), with
// and without the default augmentation: the ratio of the two is what
// augmenting adds to an epoch (the issue allows 10%).
func BenchmarkStepWithAugment(b *testing.B) {
	_, test, err := mnist.Load(testutil.MNISTDir(b))
	if err != nil {
		b.Fatal(err)
	}
	order := mnist.Permutation(test.Len(), 1)
	for _, augment := range []bool{false, true} {
		b.Run(fmt.Sprintf("augment=%v", augment), func(b *testing.B) {
			tr, err := model.NewTrainer(model.NewWeights(1), 128, 0.001, 1, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer tr.Close()
			x, labels := tr.Input()
			pre := prefetch(test, order, tr.Batch(), math.MaxInt32, augment, 1, 1)
			defer pre.stop()
			cpu0 := processCPU()
			for b.Loop() {
				pre.next(x, labels)
				if _, _, err := tr.Step(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// applyEverywhere is Affine.apply as it was before it skipped the samples
// outside the ink's bounding box: every pixel sampled, bounds checked.
func applyEverywhere(a Affine, dst, src []float32) {
	var pad padded
	const c = (mnist.Side - 1) / 2.0
	for y := range mnist.Side {
		copy(pad[(y+1)*padSide+1:], src[y*mnist.Side:(y+1)*mnist.Side])
	}
	scale, aspect := a.Scale, a.Aspect
	if scale == 0 {
		scale = 1
	}
	if aspect == 0 {
		aspect = 1
	}
	sin, cos := math.Sincos(a.Angle * math.Pi / 180)
	sx, sy := 1/(scale*aspect), 1/scale
	m00, m01 := cos*sx, -sin*sx
	m10, m11 := sin*sy, cos*sy
	m00, m01 = m00-a.Shear*m10, m01-a.Shear*m11
	for y := range mnist.Side {
		v := float64(y) - c - a.DY
		u := -c - a.DX
		px, py := m00*u+m01*v+c+1, m10*u+m11*v+c+1
		for x := range mnist.Side {
			if px > 0 && py > 0 && px < padSide-1 && py < padSide-1 {
				dst[y*mnist.Side+x] = pad.bilinear(px, py)
			} else {
				dst[y*mnist.Side+x] = 0
			}
			px += m00
			py += m10
		}
	}
}

func TestAffineSkipsOnlySamplesThatAreBlack(t *testing.T) {
	_, test, err := mnist.Load(testutil.MNISTFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	src := make([]float32, mnist.Pixels)
	got, want := make([]float32, mnist.Pixels), make([]float32, mnist.Pixels)
	var g augmenter
	for i := range 2000 {
		test.Fill([]int{i % test.Len()}, src, make([]byte, 1))
		a := randomAffine(r)
		if i%4 == 0 {
			// Far turns and shifts, so that the box reaches the edges.
			a.Angle, a.DX, a.DY = a.Angle*15, a.DX*6, a.DY*6
		}
		a.apply(got, src, &g.pad)
		applyEverywhere(a, want, src)
		for p := range got {
			if math.Float32bits(got[p]) != math.Float32bits(want[p]) {
				t.Fatalf("image %d, %+v: pixel %d is %v, sampling every pixel gives %v", i, a, p, got[p], want[p])
			}
		}
	}
	clear(src)
	Affine{Scale: 1}.apply(got, src, &g.pad)
	for p, v := range got {
		if v != 0 {
			t.Fatalf("a black image turned pixel %d to %v", p, v)
		}
	}
}
