package saliency

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"testing"
)

// inkIn is a fake model: class 3's probability is the share of the
// original image's ink that is still inside the square [y0,y0+n) x
// [x0,x0+n); the other classes share the rest. Only ink there matters.
type inkIn struct {
	y0, x0, n int
	total     float32
	calls     int
	images    int
}

func (f *inkIn) predict(_ context.Context, images [][]byte) ([][Classes]float32, error) {
	f.calls++
	f.images += len(images)
	out := make([][Classes]float32, len(images))
	for i, img := range images {
		var in float32
		for y := f.y0; y < f.y0+f.n; y++ {
			for x := f.x0; x < f.x0+f.n; x++ {
				in += float32(img[y*Side+x])
			}
		}
		p := in / f.total
		for c := range out[i] {
			out[i][c] = (1 - p) / (Classes - 1)
		}
		out[i][3] = p
	}
	return out, nil
}

// block returns an image with a white square [y0,y0+n) x [x0,x0+n).
func block(y0, x0, n int) []byte {
	img := make([]byte, Pixels)
	for y := y0; y < y0+n; y++ {
		for x := x0; x < x0+n; x++ {
			img[y*Side+x] = 255
		}
	}
	return img
}

func TestOcclusionFindsTheInkThatDecides(t *testing.T) {
	// Two strokes: the model looks only at the one in the top left.
	img := block(2, 2, 6)
	for y := 18; y < 26; y++ {
		for x := 18; x < 26; x++ {
			img[y*Side+x] = 255
		}
	}
	f := &inkIn{y0: 2, x0: 2, n: 6, total: 36 * 255}
	m, err := Occlusion(context.Background(), f.predict, img, 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the decisive stroke is salient", func(t *testing.T) {
		if v := m[4*Side+4]; v < 0.2 {
			t.Errorf("saliency %.3f in the middle of the decisive stroke, want a large drop", v)
		}
	})
	t.Run("the ignored stroke and the background are not", func(t *testing.T) {
		for _, p := range [][2]int{{22, 22}, {14, 14}, {27, 0}} {
			if v := m[p[0]*Side+p[1]]; v != 0 {
				t.Errorf("saliency %.3f at %v, want 0: hiding it changes nothing", v, p)
			}
		}
	})
	t.Run("the largest magnitude is in the decisive stroke", func(t *testing.T) {
		top := m.MaxAbs()
		best := -1
		for i, v := range m {
			if v == top {
				best = i
			}
		}
		if y, x := best/Side, best%Side; y < 0 || y > 9 || x > 9 {
			t.Errorf("largest saliency at (%d,%d), want near the top-left stroke", y, x)
		}
	})
	t.Run("one model call, without the patches that cover only black", func(t *testing.T) {
		if f.calls != 1 || f.images >= 1+Steps*Steps {
			t.Errorf("%d calls with %d images, want 1 call with fewer than %d", f.calls, f.images, 1+Steps*Steps)
		}
	})
}

func TestOcclusionSendsOnlyPatchesThatTouchInk(t *testing.T) {
	img := make([]byte, Pixels)
	img[14*Side+14] = 200 // covered by the patches starting at rows and columns 10, 12, 14
	f := &inkIn{y0: 14, x0: 14, n: 1, total: 200}
	m, err := Occlusion(context.Background(), f.predict, img, 3)
	if err != nil {
		t.Fatal(err)
	}
	if f.images != 1+9 {
		t.Errorf("the model saw %d images, want the original and the 9 patches over the one lit pixel", f.images)
	}
	// Every patch over the pixel hides all of it: probability 1 to 0.
	if v := m[14*Side+14]; v < 0.999 || v > 1.001 {
		t.Errorf("saliency %.4f at the lit pixel, want 1 (every covering patch hides it all)", v)
	}
}

func TestOcclusionRefusesWhatItCannotExplain(t *testing.T) {
	ok := func(_ context.Context, images [][]byte) ([][Classes]float32, error) {
		return make([][Classes]float32, len(images)), nil
	}
	broken := errors.New("model gone")
	cases := []struct {
		name    string
		img     []byte
		class   int
		predict PredictFunc
		want    error
	}{
		{"an image of the wrong size", make([]byte, 100), 1, ok, ErrBadInput},
		{"a class that is not a digit", block(10, 10, 8), 10, ok, ErrBadInput},
		{"a negative class", block(10, 10, 8), -1, ok, ErrBadInput},
		{"a model error", block(10, 10, 8), 1, func(context.Context, [][]byte) ([][Classes]float32, error) { return nil, broken }, broken},
	}
	for _, c := range cases {
		t.Run(c.name+" is an error", func(t *testing.T) {
			if _, err := Occlusion(context.Background(), c.predict, c.img, c.class); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	t.Run("a model that answers too few images is an error", func(t *testing.T) {
		short := func(context.Context, [][]byte) ([][Classes]float32, error) { return make([][Classes]float32, 1), nil }
		if _, err := Occlusion(context.Background(), short, block(10, 10, 8), 1); err == nil {
			t.Fatal("no error for a short answer")
		}
	})
}

func TestOverlayDrawsTheImageWithTheMapOverIt(t *testing.T) {
	img := block(10, 10, 8)
	var m Map
	m[12*Side+12] = 0.5 // supports the class: warm
	m[20*Side+4] = -0.5 // argues against: blue
	for _, scale := range []int{1, 3, DefaultScale} {
		t.Run(fmt.Sprintf("at scale %d the picture is 28 times the scale a side", scale), func(t *testing.T) {
			var buf bytes.Buffer
			if err := EncodePNG(&buf, img, &m, scale); err != nil {
				t.Fatal(err)
			}
			got, err := png.Decode(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if b := got.Bounds(); b.Dx() != Side*scale || b.Dy() != Side*scale {
				t.Errorf("picture is %v, want %dx%d", b, Side*scale, Side*scale)
			}
		})
	}
	out, err := Overlay(img, &m, 1)
	if err != nil {
		t.Fatal(err)
	}
	at := func(y, x int) [3]uint8 {
		p := out.Pix[y*out.Stride+4*x:]
		return [3]uint8{p[0], p[1], p[2]}
	}
	t.Run("ink where the map is zero is plain grey", func(t *testing.T) {
		if c := at(16, 16); c[0] != c[1] || c[1] != c[2] || c[0] < 150 {
			t.Errorf("colour %v, want a light grey", c)
		}
	})
	t.Run("background where the map is zero stays black", func(t *testing.T) {
		if c := at(0, 27); c != [3]uint8{} {
			t.Errorf("colour %v, want black", c)
		}
	})
	t.Run("support is warm", func(t *testing.T) {
		if c := at(12, 12); c[0] <= c[2]+100 {
			t.Errorf("colour %v, want red well above blue", c)
		}
	})
	t.Run("opposition is blue", func(t *testing.T) {
		if c := at(20, 4); c[2] <= c[0]+100 {
			t.Errorf("colour %v, want blue well above red", c)
		}
	})
	t.Run("a scale out of range is an error", func(t *testing.T) {
		for _, s := range []int{0, MaxScale + 1} {
			if _, err := Overlay(img, &m, s); !errors.Is(err, ErrBadInput) {
				t.Errorf("scale %d: got %v, want ErrBadInput", s, err)
			}
		}
	})
	t.Run("an all-zero map draws the image alone", func(t *testing.T) {
		out, err := Overlay(img, &Map{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < Pixels; i++ {
			p := out.Pix[4*i:]
			want := uint8(float32(img[i]) * 0.7)
			if p[0] != want || p[1] != want || p[2] != want {
				t.Fatalf("pixel %d is %v, want grey %d", i, p[:3], want)
			}
		}
	})
}
