package imaging

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"testing"

	"golang.org/x/image/draw"

	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/mnist"
)

// TestRealMNISTDigitsSurviveAnUploadRoundTrip puts real MNIST test digits
// through what a user's upload looks like (black on white, four times larger,
// on a wider sheet) and checks that Decode gives back nearly the original.
// Enlarged without smoothing, the pipeline must undo the enlargement almost
// exactly; with smoothing, only the blur it adds may be lost.
func TestRealMNISTDigitsSurviveAnUploadRoundTrip(t *testing.T) {
	set, err := mnist.LoadTest(testutil.MNISTFixture(t))
	if err != nil {
		t.Fatalf("load MNIST: %v", err)
	}
	tests := []struct {
		name               string
		enlarge            draw.Scaler
		maxMAD, maxMeanMAD float64
	}{
		{"enlarged in sharp blocks", draw.NearestNeighbor, 1, 0.2},
		{"enlarged with bilinear smoothing", draw.BiLinear, 15, 10},
	}
	const n = 20
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var total float64
			for i := range n {
				orig := set.Image(i)
				got, err := Decode(bytes.NewReader(asUpload(t, orig, tt.enlarge)))
				if err != nil {
					t.Fatalf("image %d: Decode: %v", i, err)
				}
				ox, oy := comOf(orig)
				gx, gy := comOf(got)
				if dist := math.Hypot(gx-ox, gy-oy); dist > 1.5 {
					t.Errorf("image %d: centre of mass moved %.2f px, (%.2f, %.2f) -> (%.2f, %.2f)", i, dist, ox, oy, gx, gy)
				}
				d := meanAbsDiff(got, orig)
				if d > tt.maxMAD {
					t.Errorf("image %d: mean absolute difference %.2f grey levels, want at most %.2f", i, d, tt.maxMAD)
				}
				total += d
			}
			if mean := total / n; mean > tt.maxMeanMAD {
				t.Errorf("mean absolute difference over %d digits is %.2f grey levels, want at most %.2f", n, mean, tt.maxMeanMAD)
			}
		})
	}
}

// asUpload turns 784 MNIST bytes into a PNG file as a user might send it:
// written by EncodePNG, read back, inverted to black on white, enlarged
// four times and set on a white sheet with a wide margin.
func asUpload(tb testing.TB, pixels []byte, enlarge draw.Scaler) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := EncodePNG(&buf, pixels); err != nil {
		tb.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		tb.Fatal(err)
	}
	g, ok := img.(*image.Gray)
	if !ok {
		tb.Fatalf("EncodePNG gave a %T, want *image.Gray", img)
	}
	for i, v := range g.Pix {
		g.Pix[i] = 255 - v
	}
	sheet := image.NewGray(image.Rect(0, 0, 4*Side+60, 4*Side+100))
	draw.Draw(sheet, sheet.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	enlarge.Scale(sheet, image.Rect(20, 50, 20+4*Side, 50+4*Side), g, g.Bounds(), draw.Src, nil)
	return encodePNG(tb, sheet)
}
