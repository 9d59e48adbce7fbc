package imaging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"math/rand/v2"
	"runtime"
	"testing"
)

// pngHeader returns a PNG signature and IHDR chunk (8-bit grayscale) claiming
// w x h pixels, with no image data after it.
func pngHeader(w, h uint32) []byte {
	ihdr := make([]byte, 4+13)
	copy(ihdr, "IHDR")
	binary.BigEndian.PutUint32(ihdr[4:], w)
	binary.BigEndian.PutUint32(ihdr[8:], h)
	ihdr[12] = 8 // bit depth; colour type, compression, filter, interlace stay 0
	out := append([]byte{}, pngMagic...)
	out = binary.BigEndian.AppendUint32(out, 13)
	out = append(out, ihdr...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(ihdr))
}

// jpegHeader returns a JPEG start-of-image, a baseline start-of-frame marker
// for a one-component w x h image and a start-of-scan marker with no scan
// data after it (the config reader stops at the scan).
func jpegHeader(w, h uint16) []byte {
	out := []byte{0xff, 0xd8, 0xff, 0xc0, 0, 11, 8}
	out = binary.BigEndian.AppendUint16(out, h)
	out = binary.BigEndian.AppendUint16(out, w)
	out = append(out, 1, 1, 0x11, 0)
	return append(out, 0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0)
}

func uniformPNG(tb testing.TB, w, h int, c color.Color) []byte {
	tb.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = color.GrayModel.Convert(c).(color.Gray).Y
	}
	return encodePNG(tb, img)
}

func TestDecodeRefusesWhatIsNotADigitImage(t *testing.T) {
	digit := drawDigit(60, 90, []image.Point{{10, 10}, {50, 10}, {20, 80}}, 5, color.White, color.Black)
	goodPNG := encodePNG(t, digit)
	goodJPEG := encodeJPEG(t, digit, 90)
	var gifFile bytes.Buffer
	if err := gif.Encode(&gifFile, digit, nil); err != nil {
		t.Fatal(err)
	}
	random := make([]byte, 1000)
	rng := rand.NewChaCha8([32]byte{1})
	_, _ = rng.Read(random)
	faint := image.NewGray(image.Rect(0, 0, 50, 50))
	for i := range faint.Pix {
		faint.Pix[i] = 250 + byte(i%6)
	}
	badCRC := pngHeader(100, 100)
	badCRC[len(badCRC)-1] ^= 0xff

	tests := []struct {
		name string
		file []byte
		want error
	}{
		{"random bytes", random, ErrNotImage},
		{"an empty body", nil, ErrNotImage},
		{"a JSON body", []byte(`{"image": [[0, 0]]}`), ErrNotImage},
		{"a GIF, which we do not take", gifFile.Bytes(), ErrNotImage},
		{"a PNG cut in half", goodPNG[:len(goodPNG)/2], ErrNotImage},
		{"a PNG cut inside its header", goodPNG[:12], ErrNotImage},
		{"a PNG header with no image data", pngHeader(100, 100), ErrNotImage},
		{"a PNG header with a wrong checksum", badCRC, ErrNotImage},
		{"a PNG claiming zero width", pngHeader(0, 100), ErrNotImage},
		{"a JPEG cut in half", goodJPEG[:len(goodJPEG)/2], ErrNotImage},
		{"a PNG claiming 50000x50000 pixels", pngHeader(50000, 50000), ErrTooLarge},
		{"a PNG claiming 4097x4096 pixels", pngHeader(4097, 4096), ErrTooLarge},
		{"a JPEG claiming 60000x60000 pixels", jpegHeader(60000, 60000), ErrTooLarge},
		{"an all-white image", uniformPNG(t, 200, 300, color.White), ErrEmpty},
		{"an all-black image", uniformPNG(t, 200, 300, color.Black), ErrEmpty},
		{"a uniform grey image", uniformPNG(t, 200, 300, color.Gray{Y: 128}), ErrEmpty},
		{"a one-pixel image", uniformPNG(t, 1, 1, color.Black), ErrEmpty},
		{"white paper with faint noise", encodePNG(t, faint), ErrEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(bytes.NewReader(tt.file))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode = %d bytes, error %v; want error %v", len(got), err, tt.want)
			}
			if got != nil {
				t.Errorf("Decode returned %d bytes along with the error", len(got))
			}
		})
	}
}

func TestFromImageRefusesNoImage(t *testing.T) {
	if _, err := FromImage(nil); !errors.Is(err, ErrNotImage) {
		t.Errorf("FromImage(nil) error %v, want ErrNotImage", err)
	}
	if _, err := FromImage(image.NewGray(image.Rectangle{})); !errors.Is(err, ErrEmpty) {
		t.Errorf("FromImage(zero-size image) error %v, want ErrEmpty", err)
	}
}

func TestDecodeRefusesAHugeHeaderWithoutAllocating(t *testing.T) {
	file := pngHeader(50000, 50000) // 2.5 gigapixels: 2.5 GB as 8-bit grey
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Decode(bytes.NewReader(file))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Decode error %v, want ErrTooLarge", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("Decode allocated %d bytes before refusing, want under 1 MiB", n)
	}
}
