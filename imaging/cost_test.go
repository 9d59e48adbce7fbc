package imaging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"testing"
)

// pngHeaderOf returns the signature and IHDR chunk of a w x h PNG with the
// given bit depth, colour type and interlace method: all DecodeCost reads.
func pngHeaderOf(w, h uint32, depth, colorType, interlace byte) []byte {
	var ihdr bytes.Buffer
	ihdr.WriteString("IHDR")
	binary.Write(&ihdr, binary.BigEndian, w)
	binary.Write(&ihdr, binary.BigEndian, h)
	ihdr.Write([]byte{depth, colorType, 0, 0, interlace})
	var out bytes.Buffer
	out.Write(pngMagic)
	binary.Write(&out, binary.BigEndian, uint32(ihdr.Len()-4))
	out.Write(ihdr.Bytes())
	binary.Write(&out, binary.BigEndian, crc32.ChecksumIEEE(ihdr.Bytes()))
	return out.Bytes()
}

func TestDecodeCostReadsTheHeader(t *testing.T) {
	const px = 4096 * 4096
	var baseline bytes.Buffer
	if err := jpeg.Encode(&baseline, image.NewYCbCr(image.Rect(0, 0, 64, 32), image.YCbCrSubsampleRatio420), nil); err != nil {
		t.Fatal(err)
	}
	progressive, err := os.ReadFile("testdata/progressive-64x32.jpg")
	if err != nil {
		t.Fatal(err)
	}
	var gray bytes.Buffer
	if err := png.Encode(&gray, image.NewGray(image.Rect(0, 0, 30, 20))); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want int64
	}{
		{"16-bit RGBA PNG 4096x4096", pngHeaderOf(4096, 4096, 16, 6, 0), px * 9},
		{"interlaced 16-bit RGBA PNG", pngHeaderOf(4096, 4096, 16, 6, 1), px * 17},
		{"8-bit RGBA PNG", pngHeaderOf(4096, 4096, 8, 6, 0), px * 5},
		{"8-bit gray PNG", gray.Bytes(), 30 * 20 * 2},
		{"baseline colour JPEG", baseline.Bytes(), 64 * 32 * 4},
		{"progressive colour JPEG keeps its coefficients", progressive, 64 * 32 * (3 + 12 + 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeCost(tc.data)
			if err != nil || got != tc.want {
				t.Errorf("DecodeCost = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestDecodeCostCoversWhatDecodeAllocates(t *testing.T) {
	// A real decode of a 16-bit RGBA PNG: the estimate must not be below
	// what the decoder actually holds, or the budget would not bound memory.
	img := image.NewNRGBA64(image.Rect(0, 0, 300, 200))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	img.SetNRGBA64(0, 0, color.NRGBA64{1, 2, 3, 4}) // keep it not opaque: png keeps 16-bit RGBA
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	cost, err := DecodeCost(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if held := int64(len(img.Pix)) + 300*200; cost < held {
		t.Errorf("cost %d is below the %d bytes of the decoded image and its gray copy", cost, held)
	}
}

func TestDecodeCostRefusesNonImagesAndGiants(t *testing.T) {
	for name, tc := range map[string]struct {
		data []byte
		want error
	}{
		"text":              {[]byte("hello, world"), ErrNotImage},
		"truncated PNG":     {pngHeaderOf(10, 10, 8, 0, 0)[:20], ErrNotImage},
		"zero-width PNG":    {pngHeaderOf(0, 10, 8, 0, 0), ErrNotImage},
		"too many pixels":   {pngHeaderOf(8192, 8192, 1, 0, 0), ErrTooLarge},
		"JPEG with no body": {[]byte{0xff, 0xd8, 0xff}, ErrNotImage},
	} {
		if _, err := DecodeCost(tc.data); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}
