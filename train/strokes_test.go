package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mnistserve/app/mnist"
)

// bar returns a 28x28 image of an upright stroke 2 px wide from row 4 to
// row 23: an MNIST-like 1.
func bar() []float32 {
	img := make([]float32, mnist.Pixels)
	for y := 4; y <= 23; y++ {
		img[y*mnist.Side+13], img[y*mnist.Side+14] = 1, 1
	}
	return img
}

// rowInk returns the ink of row y.
func rowInk(img []float32, y int) float32 {
	var s float32
	for _, v := range img[y*mnist.Side : (y+1)*mnist.Side] {
		s += v
	}
	return s
}

func TestSomeOnesGetAFootOrAFlagAndOtherDigitsNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 1000
	changed, feet, flags := 0, 0, 0
	for range n {
		img := bar()
		addStrokes(img, 1, r)
		if !slices.Equal(img, bar()) {
			changed++
		}
		if rowInk(img, 23) > 4 {
			feet++ // the bottom row is wider than the 2 px stroke
		}
		if rowInk(img[:], 7) > 3 && img[7*mnist.Side+11] > 0.3 {
			flags++ // ink to the left of the stroke near the top
		}
	}
	if share := float64(changed) / n; share < augmentOneSerif-0.05 || share > augmentOneSerif+0.05 {
		t.Errorf("%.3f of the 1s changed, want about %v", share, augmentOneSerif)
	}
	if feet == 0 || flags == 0 || feet == changed || flags == changed {
		t.Errorf("of %d changed 1s, %d got a foot and %d a flag: want some of each and not all of either", changed, feet, flags)
	}
	for _, label := range []byte{0, 2, 3, 9} {
		img := bar()
		for range 50 {
			addStrokes(img, label, r)
		}
		if !slices.Equal(img, bar()) {
			t.Errorf("a %d got strokes added", label)
		}
	}
	sevens := 0
	for range n {
		img := bar()
		addStrokes(img, 7, r)
		if rowInk(img, 14) > 4 {
			sevens++
		}
	}
	if share := float64(sevens) / n; share < augmentSevenBar-0.05 || share > augmentSevenBar+0.05 {
		t.Errorf("%.3f of the 7s got a bar across the middle, want about %v", share, augmentSevenBar)
	}
}

// four returns a 28x28 open 4: a diagonal from the stem's top down to a bar
// across row 15, and a 2 px stem from row 4 to row 23.
func four() []float32 {
	img := make([]float32, mnist.Pixels)
	for y := 4; y <= 23; y++ {
		img[y*mnist.Side+17], img[y*mnist.Side+18] = 1, 1
	}
	line(img, 17, 4, 8, 15, 2)
	for x := 8; x <= 20; x++ {
		img[15*mnist.Side+x] = 1
	}
	return img
}

func TestAsManyFoursGetAFootAsOnes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 1000
	feet := 0
	for range n {
		img := four()
		addStrokes(img, 4, r)
		if rowInk(img, 23) > 4 {
			feet++ // the bottom row is wider than the 2 px stem
			// The foot sits under the stem: as much ink each side of it.
			var left, right float32
			for x := range mnist.Side {
				switch {
				case x < 17:
					left += img[23*mnist.Side+x]
				case x > 18:
					right += img[23*mnist.Side+x]
				}
			}
			if d := left - right; d > 1.5 || d < -1.5 {
				t.Fatalf("the foot has %.1f of ink left of the stem and %.1f right: want it centred", left, right)
			}
		}
		if !slices.Equal(img[:22*mnist.Side], four()[:22*mnist.Side]) {
			t.Fatal("a 4's foot reached above its last two rows")
		}
	}
	if share := float64(feet) / n; share < augmentFourFoot-0.05 || share > augmentFourFoot+0.05 {
		t.Errorf("%.3f of the 4s got a foot, want about %v", share, augmentFourFoot)
	}
}

func TestLineInksOnlyNearItsSegment(t *testing.T) {
	// Drawn over every pixel, as line did before it kept to the
	// segment's box: line must give the same image to the bit.
	everywhere := func(img []float32, x0, y0, x1, y1, width float64) {
		dx, dy := x1-x0, y1-y0
		l2 := dx*dx + dy*dy
		for y := range mnist.Side {
			for x := range mnist.Side {
				px, py := float64(x)-x0, float64(y)-y0
				t := 0.0
				if l2 > 0 {
					t = min(max((px*dx+py*dy)/l2, 0), 1)
				}
				ex, ey := px-t*dx, py-t*dy
				v := float32(min(max(width/2+0.5-math.Sqrt(ex*ex+ey*ey), 0), 1))
				if i := y*mnist.Side + x; v > img[i] {
					img[i] = v
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 1000 {
		c := func() float64 { return r.Float64()*36 - 4 } // some ends off the image
		x0, y0, x1, y1, w := c(), c(), c(), c(), 0.5+3*r.Float64()
		if i%5 == 0 {
			x1, y1 = x0, y0 // a dot
		}
		got, want := bar(), bar()
		line(got, x0, y0, x1, y1, w)
		everywhere(want, x0, y0, x1, y1, w)
		for p := range got {
			if math.Float32bits(got[p]) != math.Float32bits(want[p]) {
				t.Fatalf("line (%.2f,%.2f)-(%.2f,%.2f) width %.2f: pixel %d is %v, drawn everywhere %v", x0, y0, x1, y1, w, p, got[p], want[p])
			}
		}
	}
}
