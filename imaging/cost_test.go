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
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
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

// withChunk returns the PNG data with a chunk of type typ and payload
// inserted before its first IDAT.
func withChunk(t *testing.T, data []byte, typ string, payload []byte) []byte {
	t.Helper()
	at := bytes.Index(data, []byte("IDAT")) - 4
	if at < len(pngMagic) {
		t.Fatal("no IDAT chunk")
	}
	var c bytes.Buffer
	binary.Write(&c, binary.BigEndian, uint32(len(payload)))
	c.WriteString(typ)
	c.Write(payload)
	binary.Write(&c, binary.BigEndian, crc32.ChecksumIEEE(c.Bytes()[4:]))
	return append(append(slices.Clip(data[:at]), c.Bytes()...), data[at:]...)
}

// heldBytes is the size of the pixel data of what image/png or
// image/jpeg returned.
func heldBytes(t *testing.T, img image.Image) int64 {
	switch m := img.(type) {
	case *image.Gray:
		return int64(len(m.Pix))
	case *image.Gray16:
		return int64(len(m.Pix))
	case *image.NRGBA:
		return int64(len(m.Pix))
	case *image.NRGBA64:
		return int64(len(m.Pix))
	case *image.RGBA:
		return int64(len(m.Pix))
	case *image.YCbCr:
		return int64(len(m.Y) + len(m.Cb) + len(m.Cr))
	case *image.CMYK:
		return int64(len(m.Pix))
	}
	t.Fatalf("unforeseen image type %T", img)
	return 0
}

// TestDecodeCostCoversImagesConvertedWhileDecoded: the images whose decoder
// makes a larger image than their header's colour model says. A gray PNG
// with a tRNS chunk decodes to NRGBA or NRGBA64; a JPEG of RGB or CMYK
// components is decoded into its planes and then converted into an RGBA or
// CMYK image, both held at once. The estimate must cover the decoded
// image, the planes where they are kept, and the gray copy.
func TestDecodeCostCoversImagesConvertedWhileDecoded(t *testing.T) {
	const w, h = 120, 80
	encodePNG := func(img image.Image) []byte {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	var ycc bytes.Buffer
	if err := jpeg.Encode(&ycc, image.NewRGBA(image.Rect(0, 0, w, h)), nil); err != nil {
		t.Fatal(err)
	}
	// An Adobe segment with transform 0, right after SOI: the components are RGB.
	adobe := []byte{0xff, 0xee, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0}
	rgb := append(append([]byte{0xff, 0xd8}, adobe...), ycc.Bytes()[2:]...)
	cases := []struct {
		name   string
		data   []byte
		planes int64 // bytes a pixel of planes the decoder keeps beside the image it returns
	}{
		{"8-bit gray PNG with tRNS", withChunk(t, encodePNG(image.NewGray(image.Rect(0, 0, w, h))), "tRNS", []byte{0, 7}), 0},
		{"16-bit gray PNG with tRNS", withChunk(t, encodePNG(image.NewGray16(image.Rect(0, 0, w, h))), "tRNS", []byte{0, 7}), 0},
		{"RGB JPEG (Adobe transform 0)", rgb, 3},
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	// A CMYK JPEG of Go's own image tests.
	if cmyk, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "src", "image", "testdata", "video-001.cmyk.jpeg")); err == nil {
		cases = append(cases, struct {
			name   string
			data   []byte
			planes int64
		}{"CMYK JPEG", cmyk, 4})
	} else {
		t.Logf("no CMYK case: %v", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img, _, err := image.Decode(bytes.NewReader(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			px := int64(img.Bounds().Dx() * img.Bounds().Dy())
			held := heldBytes(t, img) + tc.planes*px + px
			cost, err := DecodeCost(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if cost < held {
				t.Errorf("cost %d is below the %d bytes the decoder holds (%T, and planes and the gray copy)", cost, held, img)
			}
		})
	}
	// Without the tRNS chunk, a gray PNG stays gray and costs a byte a pixel.
	if cost, err := DecodeCost(encodePNG(image.NewGray(image.Rect(0, 0, w, h)))); err != nil || cost != w*h*2 {
		t.Errorf("plain gray PNG: %d, %v; want %d", cost, err, w*h*2)
	}
}
