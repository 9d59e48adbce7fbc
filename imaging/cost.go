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
		perPixel = pngBytesPerPixel(cfg.ColorModel, pngTransparent(data))
		if pngInterlaced(data) {
			perPixel *= 2 // each of the seven passes is decoded into its own image first
		}
	case "jpeg":
		fr := jpegFrame(data)
		perPixel = fr.comps // the planes, subsampling ignored: an upper bound
		switch {
		case fr.comps == 4:
			perPixel += 4 // the CMYK image made from the planes
		case fr.comps == 3 && fr.rgb:
			perPixel += 4 // the RGBA image made from the planes
		}
		if fr.progressive {
			perPixel += 4 * fr.comps // int32 coefficients of every block
		}
	}
	// toGray adds a byte a pixel; the rest of FromImage works on at most that.
	return pixels * (perPixel + 1), nil
}

// pngBytesPerPixel is the size of a pixel in the image png.Decode returns
// for a header of colour model m, with or without a tRNS chunk: png.Decode
// turns gray with a transparent value into NRGBA (8-bit) or NRGBA64
// (16-bit), which DecodeConfig's model does not say.
func pngBytesPerPixel(m color.Model, transparent bool) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		if transparent {
			return 4
		}
		return 1
	case color.Gray16Model, color.Alpha16Model:
		if transparent {
			return 8
		}
		return 2
	case color.RGBAModel, color.NRGBAModel:
		return 4
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8 // RGBA64, NRGBA64, and anything unforeseen
}

// pngTransparent reports whether the PNG has a tRNS chunk before its
// image data. On anything odd it assumes so (the larger cost).
func pngTransparent(data []byte) bool {
	for i := len(pngMagic); ; {
		if i+8 > len(data) {
			return true
		}
		n := int64(binary.BigEndian.Uint32(data[i:]))
		switch string(data[i+4 : i+8]) {
		case "tRNS":
			return true
		case "IDAT", "IEND":
			return false
		}
		next := int64(i) + 12 + n // length, type, data, CRC
		if next > int64(len(data)) {
			return true
		}
		i = int(next)
	}
}

// pngInterlaced reads the interlace method of the IHDR chunk, which the
// PNG format fixes at byte 28 of the file.
func pngInterlaced(data []byte) bool {
	return len(data) > 28 && data[28] != 0
}

// jpegLayout is what the cost of decoding a JPEG depends on.
type jpegLayout struct {
	comps       int64 // colour components
	progressive bool  // every block's coefficients kept until the end
	rgb         bool  // three components decoded as RGB: image/jpeg converts them to RGBA
}

// jpegFrame walks the segments up to the start of frame and returns the
// layout they give. DecodeConfig has already checked the header, so this
// only walks segment lengths; on anything odd it assumes the worst (four
// components, progressive). Three components are RGB as image/jpeg
// decides it: no JFIF segment, and an Adobe segment with transform 0 or
// the components named R, G and B.
func jpegFrame(data []byte) jpegLayout {
	worst := jpegLayout{comps: 4, progressive: true}
	r := bytes.NewReader(data[2:]) // after SOI
	jfif, adobeRGB := false, false
	for {
		var m [2]byte
		if _, err := io.ReadFull(r, m[:]); err != nil || m[0] != 0xff {
			return worst
		}
		if m[1] == 0xff || m[1] == 0x01 || (m[1] >= 0xd0 && m[1] <= 0xd7) {
			if m[1] == 0xff {
				_ = r.UnreadByte() // fill byte: the next 0xff starts the marker
			}
			continue
		}
		var n uint16
		if err := binary.Read(r, binary.BigEndian, &n); err != nil || n < 2 {
			return worst
		}
		sof := m[1] >= 0xc0 && m[1] <= 0xcf && m[1] != 0xc4 && m[1] != 0xc8 && m[1] != 0xcc
		if m[1] != 0xe0 && m[1] != 0xee && !sof { // nothing to read in it
			if _, err := r.Seek(int64(n)-2, io.SeekCurrent); err != nil {
				return worst
			}
			continue
		}
		body := make([]byte, n-2)
		if _, err := io.ReadFull(r, body); err != nil {
			return worst
		}
		switch {
		case m[1] == 0xe0: // APP0
			jfif = jfif || bytes.HasPrefix(body, []byte("JFIF\x00"))
		case m[1] == 0xee: // APP14
			if len(body) >= 12 && bytes.HasPrefix(body, []byte("Adobe")) {
				adobeRGB = body[11] == 0
			}
		case sof:
			if len(body) < 6 {
				return worst
			}
			l := jpegLayout{
				comps:       max(int64(body[5]), 1),
				progressive: m[1] == 0xc2 || m[1] == 0xc6 || m[1] == 0xca || m[1] == 0xce,
			}
			if l.comps == 3 && !jfif {
				ids := body[6:]
				named := len(ids) >= 9 && ids[0] == 'R' && ids[3] == 'G' && ids[6] == 'B'
				l.rgb = adobeRGB || named
			}
			return l
		}
	}
}
