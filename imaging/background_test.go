package imaging

import (
	"bytes"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"
)

// photo turns a black-on-white drawing into what a phone might take of
// it: the paper grey and darker towards one corner, the ink dark grey
// rather than black, and noise on every pixel.
func photo(img *image.NRGBA, seed uint64) *image.Gray {
	r := rand.New(rand.NewPCG(seed, 1))
	b := img.Bounds()
	out := image.NewGray(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			ink := 1 - float64(img.NRGBAAt(x, y).R)/255
			paper := 200 - 40*float64(x+y)/float64(b.Dx()+b.Dy())
			v := paper + (60-paper)*ink + 10*r.NormFloat64()
			out.Pix[out.PixOffset(x, y)] = uint8(min(max(math.Round(v), 0), 255))
		}
	}
	return out
}

func TestAPhotoDecodesLikeTheCleanDrawing(t *testing.T) {
	drawing := drawDigit(240, 300, seven, 12, color.White, color.Black)
	clean, err := Decode(bytes.NewReader(encodePNG(t, drawing)))
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(5) {
		got, err := Decode(bytes.NewReader(encodePNG(t, photo(drawing, seed))))
		if err != nil {
			t.Fatalf("photo %d: %v", seed, err)
		}
		// Speckles or a lit corner taken for ink would widen the box and
		// shrink the digit inside it.
		if box, want := inkBox(got), inkBox(clean); box.Dy() < want.Dy()-2 || box.Dx() < want.Dx()-2 {
			t.Errorf("photo %d: the digit spans %v, the clean drawing %v", seed, box, want)
		}
		if d := shiftedMAD(got, clean); d > 12 {
			t.Errorf("photo %d: mean absolute difference %.1f grey levels from the clean drawing, want at most 12", seed, d)
		}
	}
}

func TestCleanPicturesKeepTheirBackground(t *testing.T) {
	tests := []struct {
		name string
		img  *image.Gray
	}{
		{"a clean drawing", toGray(drawDigit(120, 150, seven, 6, color.Black, color.White))},
		{"a digit touching the edges", toGray(drawDigit(60, 60, []image.Point{{30, 0}, {30, 59}}, 4, color.Black, color.White))},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is left as it is", func(t *testing.T) {
			before := bytes.Clone(tt.img.Pix)
			if clearBackground(tt.img) || !bytes.Equal(before, tt.img.Pix) {
				t.Error("clearBackground changed a picture whose border is background")
			}
		})
	}
}

func TestAFinePenReachesFullBrightness(t *testing.T) {
	// A 1 px line on a 300 px sheet: shrunk to 20 px it would average to
	// a fifteenth of full ink.
	img := drawDigit(200, 300, []image.Point{{100, 10}, {100, 290}}, 0.5, color.White, color.Black)
	got, err := Decode(bytes.NewReader(encodePNG(t, img)))
	if err != nil {
		t.Fatal(err)
	}
	hi := byte(0)
	for _, v := range got {
		hi = max(hi, v)
	}
	if hi != 255 {
		t.Errorf("the brightest pixel of a fine-pen 1 is %d, want 255 as in MNIST", hi)
	}
}
