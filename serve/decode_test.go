package serve

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mnistserve/app/store/storetest"
)

// bombPNG is the header of a 4096x4096 16-bit RGBA PNG: a few dozen bytes
// that claim 128 MiB of pixels.
func bombPNG() []byte {
	var ihdr bytes.Buffer
	ihdr.WriteString("IHDR")
	binary.Write(&ihdr, binary.BigEndian, [2]uint32{4096, 4096})
	ihdr.Write([]byte{16, 6, 0, 0, 0})
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	binary.Write(&out, binary.BigEndian, uint32(ihdr.Len()-4))
	out.Write(ihdr.Bytes())
	binary.Write(&out, binary.BigEndian, crc32.ChecksumIEEE(ihdr.Bytes()))
	return out.Bytes()
}

// bigInkPNG is a side x side light image with a dark vertical bar: a "1"
// that takes real work to decode.
func bigInkPNG(tb testing.TB, side int) []byte {
	tb.Helper()
	img := image.NewGray(image.Rect(0, 0, side, side))
	for y := range side {
		for x := range side {
			v := uint8(240)
			if x > side*2/5 && x < side*3/5 && y > side/8 && y < side*7/8 {
				v = 20
			}
			img.SetGray(x, y, color.Gray{Y: v})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestImagesBeyondTheDecodeBudgetAre413WithoutDecoding(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := New(Config{}, st, nil)
	s.SetModel(&fakeModel{version: "v1"})
	bomb := bombPNG()
	codes := burst(t, 16, func() *httptest.ResponseRecorder {
		return do(t, s, "POST", "/predict", "image/png", bomb)
	})
	if codes[413] != 16 {
		t.Fatalf("16 crafted 4096x4096 16-bit PNGs: %v, want 16 x 413", codes)
	}
	msg := errorOf(t, do(t, s, "POST", "/predict", "image/png", bomb), 413)
	if !strings.Contains(msg, "MiB") {
		t.Errorf("413 message %q does not say how much decoding would take", msg)
	}
	if n := count(t, st); n != 0 {
		t.Errorf("%d rows stored for refused images", n)
	}
}

func TestImagesWithinTheBudgetWaitTheirTurnAndAllGetAnswers(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	img := bigInkPNG(t, 800) // costs 800*800*2 bytes: one at a time fits the budget below
	// A generous deadline: under the race detector on a busy machine the
	// queue of decodes may take a while, which is not what this test is about.
	s := New(Config{DecodeBudget: 2 << 20, Timeout: time.Minute}, st, nil)
	s.SetModel(&fakeModel{version: "v1"})
	codes := burst(t, 12, func() *httptest.ResponseRecorder {
		return do(t, s, "POST", "/predict", "image/png", img)
	})
	if codes[200] != 12 {
		t.Fatalf("12 images within the budget at once: %v, want 12 x 200", codes)
	}
	if s.decodes.TryAcquire(2 << 20) {
		s.decodes.Release(2 << 20)
	} else {
		t.Error("the decode budget was not given back after the requests")
	}
}
