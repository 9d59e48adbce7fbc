package imaging

import (
	"image"
	"math"
	"testing"
)

func TestAxisTapsAverageWithWeightsSummingToOne(t *testing.T) {
	for _, tt := range []struct{ n, m int }{{80, 20}, {219, 20}, {21, 20}, {20, 20}, {7, 20}, {1, 20}, {1000, 1}, {3, 2}} {
		for i, taps := range axisTaps(tt.n, tt.m) {
			var sum float64
			for _, tp := range taps {
				if tp.src < 0 || tp.src >= tt.n {
					t.Fatalf("%d->%d: output %d reads source %d, outside 0..%d", tt.n, tt.m, i, tp.src, tt.n-1)
				}
				sum += float64(tp.weight)
			}
			if math.Abs(sum-1) > 1e-5 {
				t.Errorf("%d->%d: weights of output %d sum to %v, want 1", tt.n, tt.m, i, sum)
			}
		}
	}
}

func TestResizeAveragesBlocksWhenShrinking(t *testing.T) {
	// A 4x4 checker of 2x2 blocks of 0 and 200 shrunk to 2x2 keeps the blocks;
	// shrunk to 1x1 it is their mean.
	g := image.NewGray(image.Rect(0, 0, 4, 4))
	for y := 0; y < 4; y++ {
		for x := 0; x < 4; x++ {
			if (x/2+y/2)%2 == 1 {
				g.Pix[y*4+x] = 200
			}
		}
	}
	if got := resize(g, g.Bounds(), 2, 2).Pix; string(got) != string([]byte{0, 200, 200, 0}) {
		t.Errorf("4x4 -> 2x2 gave %v, want [0 200 200 0]", got)
	}
	if got := resize(g, g.Bounds(), 1, 1).Pix[0]; got != 100 {
		t.Errorf("4x4 -> 1x1 gave %d, want the mean 100", got)
	}
	if got := resize(g, image.Rect(2, 0, 4, 2), 1, 1).Pix[0]; got != 200 {
		t.Errorf("the top-right block alone gave %d, want 200", got)
	}
}
