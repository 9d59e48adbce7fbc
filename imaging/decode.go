// Package imaging turns uploaded PNG and JPEG pictures of a digit into the
// 28x28 input form of MNIST, and writes stored inputs back out as PNG.
package imaging

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
)

// ErrNotImage is returned for bytes that are not a PNG or JPEG image we can decode.
var ErrNotImage = errors.New("not a PNG or JPEG image")

// ErrTooLarge is returned when an image header claims more than MaxPixels pixels.
var ErrTooLarge = errors.New("image too large")

// ErrEmpty is returned for an image with no digit in it (blank or without contrast).
var ErrEmpty = errors.New("image holds no digit")

// MaxPixels bounds width*height of an image Decode agrees to decode; checked
// on the header so a tiny file cannot make the server allocate gigabytes.
const MaxPixels = 4096 * 4096

var (
	pngMagic  = []byte("\x89PNG\r\n\x1a\n")
	jpegMagic = []byte{0xff, 0xd8}
)

// format is one image format we accept, with its own decoders. We sniff and
// call them directly rather than going through image.Decode, so that a GIF or
// WebP decoder registered by some other package in the binary is never used.
type format struct {
	name         string
	magic        []byte
	decodeConfig func(io.Reader) (image.Config, error)
	decode       func(io.Reader) (image.Image, error)
}

var formats = []format{
	{"png", pngMagic, png.DecodeConfig, png.Decode},
	{"jpeg", jpegMagic, jpeg.DecodeConfig, jpeg.Decode},
}

// Decode reads a PNG or JPEG from r and returns the 784 MNIST bytes (row by
// row, white digit on black). The header is checked against MaxPixels before
// any pixel memory is allocated.
func Decode(r io.Reader) ([]byte, error) {
	br := bufio.NewReader(r)
	f, err := sniff(br)
	if err != nil {
		return nil, err
	}
	// The header bytes the config decoder consumes are kept and replayed to
	// the full decoder, so r need not be seekable.
	var head bytes.Buffer
	cfg, err := f.decodeConfig(io.TeeReader(br, &head))
	if err != nil {
		return nil, fmt.Errorf("%w: read %s header: %w", ErrNotImage, f.name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%w: %s header gives %dx%d pixels", ErrNotImage, f.name, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, fmt.Errorf("%w: %dx%d pixels, at most %d allowed", ErrTooLarge, cfg.Width, cfg.Height, MaxPixels)
	}
	img, err := f.decode(io.MultiReader(&head, br))
	if err != nil {
		return nil, fmt.Errorf("%w: decode %s: %w", ErrNotImage, f.name, err)
	}
	return FromImage(img)
}

// sniff picks the format from the first bytes of br without consuming them.
func sniff(br *bufio.Reader) (format, error) {
	start, _ := br.Peek(len(pngMagic))
	for _, f := range formats {
		if bytes.HasPrefix(start, f.magic) {
			return f, nil
		}
	}
	return format{}, fmt.Errorf("%w: unknown leading bytes % x", ErrNotImage, start)
}

// EncodePNG writes 784 MNIST bytes as a 28x28 8-bit grayscale PNG; decoding
// it gives back exactly the same bytes.
func EncodePNG(w io.Writer, pixels []byte) error {
	if len(pixels) != Side*Side {
		return fmt.Errorf("encode png: got %d pixels, want %d", len(pixels), Side*Side)
	}
	img := image.NewGray(image.Rect(0, 0, Side, Side))
	copy(img.Pix, pixels)
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("encode png: %w", err)
	}
	return nil
}
