package imaging

import (
	"image"
	"image/color"
)

// toGray returns the luminance of img as an 8-bit image with origin (0,0).
// Transparency is resolved so that a drawing exported from a canvas works:
// when the border is mostly transparent the strokes are whatever is opaque,
// so opacity itself becomes the ink (white on black, whatever the stroke
// colour); otherwise the image is laid over white, as a browser shows it.
func toGray(img image.Image) *image.Gray {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := image.NewGray(image.Rect(0, 0, w, h))
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			copy(out.Pix[y*out.Stride:y*out.Stride+w], m.Pix[i:i+w])
		}
		return out
	case *image.YCbCr:
		// JPEG luma is the same weighted sum of R, G and B as color.GrayModel.
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				out.Pix[y*out.Stride+x] = m.Y[m.YOffset(b.Min.X+x, b.Min.Y+y)]
			}
		}
		return out
	}
	at := rgba64At(img)
	alphaInk := transparentBorder(b, at)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := at(b.Min.X+x, b.Min.Y+y)
			var v uint32
			if alphaInk {
				v = uint32(c.A)
			} else {
				// Premultiplied colour over white adds the missing coverage as white.
				white := 0xffff - uint32(c.A)
				r, g, bl := uint32(c.R)+white, uint32(c.G)+white, uint32(c.B)+white
				v = (19595*r + 38470*g + 7471*bl + 1<<15) >> 16
			}
			out.Pix[y*out.Stride+x] = uint8(v >> 8)
		}
	}
	return out
}

// rgba64At returns a pixel reader for img that avoids allocating a
// color.Color per pixel when the image type allows it.
func rgba64At(img image.Image) func(x, y int) color.RGBA64 {
	if m, ok := img.(image.RGBA64Image); ok {
		return m.RGBA64At
	}
	return func(x, y int) color.RGBA64 {
		r, g, b, a := img.At(x, y).RGBA()
		return color.RGBA64{uint16(r), uint16(g), uint16(b), uint16(a)}
	}
}

// transparentBorder reports whether the outer frame of the image is mostly
// (more than half) transparent.
func transparentBorder(b image.Rectangle, at func(x, y int) color.RGBA64) bool {
	var sum, n uint64
	eachBorder(b, func(x, y int) {
		sum += uint64(at(x, y).A)
		n++
	})
	return n > 0 && sum < n*0x8000
}

// eachBorder calls f once for every pixel of the one-pixel outer frame of b.
func eachBorder(b image.Rectangle, f func(x, y int)) {
	if b.Empty() {
		return
	}
	for x := b.Min.X; x < b.Max.X; x++ {
		f(x, b.Min.Y)
		if b.Dy() > 1 {
			f(x, b.Max.Y-1)
		}
	}
	for y := b.Min.Y + 1; y < b.Max.Y-1; y++ {
		f(b.Min.X, y)
		if b.Dx() > 1 {
			f(b.Max.X-1, y)
		}
	}
}
