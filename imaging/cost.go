package imaging

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"image/color"
	"io"
)

// DecodeCost estimates from the header alone how many bytes decoding data
// with Decode will allocate at its peak, so a server can refuse or queue an
// upload before it costs anything. A small file can claim a large cost: a
// 130 KB 4096x4096 16-bit PNG decodes into 128 MiB, a progressive JPEG keeps
// every DCT coefficient (4 bytes a pixel a component) as well as the image.
// Bytes that are no image give an error wrapping ErrNotImage; more pixels
// than MaxPixels, ErrTooLarge.
func DecodeCost(data []byte) (int64, error) {
	br := bufio.NewReader(bytes.NewReader(data))
	f, err := sniff(br)
	if err != nil {
		return 0, err
	}
	cfg, err := f.decodeConfig(br)
	if err != nil {
		return 0, fmt.Errorf("%w: read %s header: %w", ErrNotImage, f.name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return 0, fmt.Errorf("%w: %s header gives %dx%d pixels", ErrNotImage, f.name, cfg.Width, cfg.Height)
	}
	pixels := int64(cfg.Width) * int64(cfg.Height)
	if pixels > MaxPixels {
		return 0, fmt.Errorf("%w: %dx%d pixels, at most %d allowed", ErrTooLarge, cfg.Width, cfg.Height, MaxPixels)
	}
	var perPixel int64
	switch f.name {
	case "png":
		perPixel = pngBytesPerPixel(cfg.ColorModel)
		if pngInterlaced(data) {
			perPixel *= 2 // each of the seven passes is decoded into its own image first
		}
	case "jpeg":
		comps, progressive := jpegFrame(data)
		perPixel = comps // the planes, subsampling ignored: an upper bound
		if progressive {
			perPixel += 4 * comps // int32 coefficients of every block
		}
	}
	// toGray adds a byte a pixel; the rest of FromImage works on at most that.
	return pixels * (perPixel + 1), nil
}

// pngBytesPerPixel is the size of a pixel in the image png.Decode returns.
func pngBytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.RGBAModel, color.NRGBAModel:
		return 4
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8 // RGBA64, NRGBA64, and anything unforeseen
}

// pngInterlaced reads the interlace method of the IHDR chunk, which the
// PNG format fixes at byte 28 of the file.
func pngInterlaced(data []byte) bool {
	return len(data) > 28 && data[28] != 0
}

// jpegFrame finds the start-of-frame segment and returns its number of
// components and whether it is progressive. DecodeConfig has already
// checked the header, so this only walks segment lengths; on anything odd
// it assumes the worst (four components, progressive).
func jpegFrame(data []byte) (comps int64, progressive bool) {
	r := bytes.NewReader(data[2:]) // after SOI
	for {
		var m [2]byte
		if _, err := io.ReadFull(r, m[:]); err != nil || m[0] != 0xff {
			return 4, true
		}
		if m[1] == 0xff || m[1] == 0x01 || (m[1] >= 0xd0 && m[1] <= 0xd7) {
			if m[1] == 0xff {
				_ = r.UnreadByte() // fill byte: the next 0xff starts the marker
			}
			continue
		}
		var n uint16
		if err := binary.Read(r, binary.BigEndian, &n); err != nil || n < 2 {
			return 4, true
		}
		if m[1] >= 0xc0 && m[1] <= 0xcf && m[1] != 0xc4 && m[1] != 0xc8 && m[1] != 0xcc {
			var sof [6]byte // precision, height, width, components
			if _, err := io.ReadFull(r, sof[:]); err != nil {
				return 4, true
			}
			prog := m[1] == 0xc2 || m[1] == 0xc6 || m[1] == 0xca || m[1] == 0xce
			return max(int64(sof[5]), 1), prog
		}
		if _, err := r.Seek(int64(n)-2, io.SeekCurrent); err != nil {
			return 4, true
		}
	}
}
