package imaging

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"testing"
)

func TestEncodePNGGivesBackTheSameBytes(t *testing.T) {
	ramp := make([]byte, Side*Side)
	for i := range ramp {
		ramp[i] = byte(i * 7)
	}
	tests := []struct {
		name   string
		pixels []byte
	}{
		{"all black", make([]byte, Side*Side)},
		{"a ramp through every grey level", ramp},
		{"a drawn digit", mustFromImage(t, drawDigit(200, 300, seven, 14, color.White, color.Black))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := EncodePNG(&buf, tt.pixels); err != nil {
				t.Fatalf("EncodePNG: %v", err)
			}
			img, err := png.Decode(&buf)
			if err != nil {
				t.Fatalf("png.Decode: %v", err)
			}
			g, ok := img.(*image.Gray)
			if !ok || g.Bounds() != image.Rect(0, 0, Side, Side) {
				t.Fatalf("decoded %T with bounds %v, want *image.Gray 28x28", img, img.Bounds())
			}
			if !bytes.Equal(g.Pix, tt.pixels) {
				t.Errorf("decoded pixels differ from the encoded ones")
			}
		})
	}
}

func TestEncodePNGRefusesWrongLength(t *testing.T) {
	for _, n := range []int{0, 783, 785} {
		if err := EncodePNG(&bytes.Buffer{}, make([]byte, n)); err == nil {
			t.Errorf("EncodePNG(%d bytes) succeeded, want an error", n)
		}
	}
}

func mustFromImage(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	pix, err := FromImage(img)
	if err != nil {
		tb.Fatalf("FromImage: %v", err)
	}
	return pix
}

func TestDecodeTurnsADrawnDigitIntoMNISTForm(t *testing.T) {
	black, white := color.Black, color.White
	clear := color.NRGBA{}
	paper, pencil := color.Gray{Y: 200}, color.Gray{Y: 90}
	var small, tiny []image.Point
	for _, p := range seven {
		small = append(small, image.Pt(p.X/2+500, p.Y/2+380))
		tiny = append(tiny, image.Pt(p.X/15+10, p.Y/15+5))
	}
	grey := image.NewGray(image.Rect(0, 0, 200, 300))
	for i, v := range drawDigit(200, 300, seven, 14, white, black).Pix {
		if i%4 == 0 {
			grey.Pix[i/4] = v
		}
	}
	// Every variant must come out close to the clean black-on-white PNG.
	want := mustFromImage(t, drawDigit(200, 300, seven, 14, white, black))
	tests := []struct {
		name   string
		file   []byte
		maxMAD float64
	}{
		{"black digit on a white PNG", encodePNG(t, drawDigit(200, 300, seven, 14, white, black)), 0},
		{"black digit on a white JPEG", encodeJPEG(t, drawDigit(200, 300, seven, 14, white, black), 80), 2},
		{"grayscale JPEG", encodeJPEG(t, grey, 90), 2},
		{"white digit on a black PNG", encodePNG(t, drawDigit(200, 300, seven, 14, black, white)), 1},
		{"black strokes on a transparent canvas", encodePNG(t, drawDigit(200, 300, seven, 14, clear, black)), 1},
		{"white strokes on a transparent canvas", encodePNG(t, drawDigit(200, 300, seven, 14, clear, white)), 1},
		{"pencil on grey paper", encodePNG(t, drawDigit(200, 300, seven, 14, paper, pencil)), 2},
		{"small digit in a corner of a big canvas", encodePNG(t, drawDigit(800, 600, small, 7, white, black)), 3},
		{"digit smaller than 20 px, enlarged", encodePNG(t, drawDigit(40, 40, tiny, 1, white, black)), 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(bytes.NewReader(tt.file))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(got) != Side*Side {
				t.Fatalf("got %d bytes, want %d", len(got), Side*Side)
			}
			if got[0] != 0 || got[len(got)-1] != 0 {
				t.Errorf("corners are %d and %d, want black background", got[0], got[len(got)-1])
			}
			if m := maxOf(got); m != 255 {
				t.Errorf("brightest pixel is %d, want 255 (white digit)", m)
			}
			cx, cy := comOf(got)
			if math.Abs(cx-14) > 1 || math.Abs(cy-14) > 1 {
				t.Errorf("centre of mass (%.2f, %.2f), want within 1 px of (14, 14)", cx, cy)
			}
			box := inkBox(got)
			if box.Dx() > 20 || box.Dy() > 20 || max(box.Dx(), box.Dy()) < 19 {
				t.Errorf("ink bounding box %v is %dx%d, want the longer side 19..20 and none over 20", box, box.Dx(), box.Dy())
			}
			// The 7's bar lies across the top; its bottom right is empty.
			top := inkIn(got, image.Rect(0, box.Min.Y, Side, box.Min.Y+4))
			bottomRight := inkIn(got, image.Rect(box.Min.X+box.Dx()/2+2, box.Max.Y-6, Side, Side))
			if bottomRight*10 > top {
				t.Errorf("ink in the top rows %d, in the bottom right %d: the digit looks flipped", top, bottomRight)
			}
			if d := shiftedMAD(got, want); d > tt.maxMAD {
				t.Errorf("mean absolute difference from the clean PNG is %.2f (best one-pixel shift), want at most %.2f", d, tt.maxMAD)
			}
		})
	}
}

func maxOf(pix []byte) byte {
	var m byte
	for _, v := range pix {
		m = max(m, v)
	}
	return m
}

func TestDecodeLeavesAnMNISTImageAsItIs(t *testing.T) {
	mnistLike := mustFromImage(t, drawDigit(200, 300, seven, 14, color.White, color.Black))
	var buf bytes.Buffer
	if err := EncodePNG(&buf, mnistLike); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(&buf)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if got[0] != 0 || maxOf(got) != 255 {
		t.Errorf("background %d, brightest %d: the white-on-black image was inverted", got[0], maxOf(got))
	}
	if d := meanAbsDiff(got, mnistLike); d > 2 {
		t.Errorf("mean absolute difference %.2f after a second pass, want at most 2", d)
	}
}
