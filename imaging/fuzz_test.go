package imaging

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"testing"
)

// FuzzDecode checks that no input makes Decode panic, and that every answer
// is either 784 bytes or one of the package's errors.
func FuzzDecode(f *testing.F) {
	digit := drawDigit(30, 40, []image.Point{{5, 5}, {25, 5}, {10, 35}}, 3, color.White, color.Black)
	png := encodePNG(f, digit)
	f.Add(png)
	f.Add(png[:len(png)/2])
	f.Add(encodeJPEG(f, digit, 75))
	f.Add(pngHeader(50000, 50000))
	f.Add(jpegHeader(300, 200))
	f.Add(uniformPNG(f, 8, 8, color.White))
	f.Add([]byte("not an image"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Decode(bytes.NewReader(data))
		switch {
		case err == nil && len(got) != Side*Side:
			t.Fatalf("Decode returned %d bytes, want %d", len(got), Side*Side)
		case err != nil && !errors.Is(err, ErrNotImage) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrEmpty):
			t.Fatalf("Decode error %v is none of ErrNotImage, ErrTooLarge, ErrEmpty", err)
		}
	})
}
