package imaging

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"
	"testing"
)

// seven is a hand-drawn "7" on a 200x300 canvas: a bar across the top and a
// stroke down to the bottom left, so flips and transposes show.
var seven = []image.Point{{40, 60}, {160, 60}, {150, 90}, {80, 250}}

// drawDigit paints the polyline pts with a round pen of the given radius on
// a w x h canvas filled with bg.
func drawDigit(w, h int, pts []image.Point, radius float64, bg, ink color.Color) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(bg), image.Point{}, draw.Src)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if distToPolyline(float64(x), float64(y), pts) <= radius {
				img.Set(x, y, ink)
			}
		}
	}
	return img
}

func distToPolyline(x, y float64, pts []image.Point) float64 {
	best := math.Inf(1)
	for i := 1; i < len(pts); i++ {
		ax, ay := float64(pts[i-1].X), float64(pts[i-1].Y)
		bx, by := float64(pts[i].X), float64(pts[i].Y)
		dx, dy := bx-ax, by-ay
		t := ((x-ax)*dx + (y-ay)*dy) / (dx*dx + dy*dy)
		t = min(max(t, 0), 1)
		best = min(best, math.Hypot(x-(ax+t*dx), y-(ay+t*dy)))
	}
	return best
}

func encodePNG(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatalf("encode png: %v", err)
	}
	return buf.Bytes()
}

func encodeJPEG(tb testing.TB, img image.Image, quality int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		tb.Fatalf("encode jpeg: %v", err)
	}
	return buf.Bytes()
}

// comOf returns the intensity-weighted mean pixel index (x, y) of a 28x28
// image; written apart from massCentre so the test does not trust the code
// it checks.
func comOf(pix []byte) (x, y float64) {
	var s, sx, sy float64
	for i, v := range pix {
		s += float64(v)
		sx += float64(v) * float64(i%Side)
		sy += float64(v) * float64(i/Side)
	}
	return sx / s, sy / s
}

// inkBox returns the bounding box of the non-zero pixels of a 28x28 image.
func inkBox(pix []byte) image.Rectangle {
	r := image.Rectangle{}
	for i, v := range pix {
		if v != 0 {
			r = r.Union(image.Rect(i%Side, i/Side, i%Side+1, i/Side+1))
		}
	}
	return r
}

// meanAbsDiff returns the mean absolute difference of two equal-length images.
func meanAbsDiff(a, b []byte) float64 {
	var s float64
	for i := range a {
		s += math.Abs(float64(a[i]) - float64(b[i]))
	}
	return s / float64(len(a))
}

// inkIn returns the summed intensity of the 28x28 image inside r.
func inkIn(pix []byte, r image.Rectangle) int {
	s := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			s += int(pix[y*Side+x])
		}
	}
	return s
}

// shiftedMAD returns the smallest mean absolute difference between a moved by
// at most one pixel each way and b: centring moves by whole pixels, so the
// same digit can land one pixel off when its centre of mass is near a half.
func shiftedMAD(a, b []byte) float64 {
	best := math.Inf(1)
	for dy := -1; dy <= 1; dy++ {
		for dx := -1; dx <= 1; dx++ {
			moved := make([]byte, len(a))
			for y := 0; y < Side; y++ {
				for x := 0; x < Side; x++ {
					if sx, sy := x-dx, y-dy; sx >= 0 && sx < Side && sy >= 0 && sy < Side {
						moved[y*Side+x] = a[sy*Side+sx]
					}
				}
			}
			best = min(best, meanAbsDiff(moved, b))
		}
	}
	return best
}
