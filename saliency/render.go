package saliency

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"sync"
)

// Scales a picture may be drawn at: Side*scale pixels a side.
const (
	MinScale     = 1
	MaxScale     = 16
	DefaultScale = 10 // 280x280, the size of the page's drawing pad
)

// Overlay draws img in gray, each pixel a scale x scale square, with m over
// it as a colour heat map: warm where the ink supports the class, blue
// where it argues against, transparent where it does not matter. The
// colours are relative to m's largest magnitude, so a faint map still
// shows its shape; the image alone is drawn for an all-zero map.
func Overlay(img []byte, m *Map, scale int) (*image.NRGBA, error) {
	if len(img) != Pixels {
		return nil, fmt.Errorf("image has %d bytes, want %d: %w", len(img), Pixels, ErrBadInput)
	}
	if scale < MinScale || scale > MaxScale {
		return nil, fmt.Errorf("scale %d is not %d..%d: %w", scale, MinScale, MaxScale, ErrBadInput)
	}
	side := Side * scale
	out := image.NewNRGBA(image.Rect(0, 0, side, side))
	top := m.MaxAbs()
	for y := 0; y < side; y++ {
		row := out.Pix[y*out.Stride : y*out.Stride+4*side]
		for x := 0; x < side; x++ {
			// The image keeps its square pixels, as the model saw them;
			// the map is interpolated between pixel centres, since it
			// measures regions, not pixels.
			g := float32(img[(y/scale)*Side+x/scale]) * 0.7 // grey, so the colours stand out on the strokes
			var v float32
			if top > 0 {
				v = bilinear(m, (float32(x)+0.5)/float32(scale)-0.5, (float32(y)+0.5)/float32(scale)-0.5) / top
			}
			c := heat(v)
			a := min(abs(v), 1) * 0.8
			p := row[4*x : 4*x+4]
			p[0] = uint8(g*(1-a) + float32(c.R)*a)
			p[1] = uint8(g*(1-a) + float32(c.G)*a)
			p[2] = uint8(g*(1-a) + float32(c.B)*a)
			p[3] = 255
		}
	}
	return out, nil
}

// bilinear samples m at (x, y) in pixel units, clamped at the edges.
func bilinear(m *Map, x, y float32) float32 {
	x = min(max(x, 0), Side-1)
	y = min(max(y, 0), Side-1)
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, Side-1), min(y0+1, Side-1)
	fx, fy := x-float32(x0), y-float32(y0)
	top := m[y0*Side+x0]*(1-fx) + m[y0*Side+x1]*fx
	bottom := m[y1*Side+x0]*(1-fx) + m[y1*Side+x1]*fx
	return top*(1-fy) + bottom*fy
}

// heat is the colour of a saliency v in -1..1: red to yellow as support
// grows, blue for the opposite.
func heat(v float32) color.NRGBA {
	if v < 0 {
		return color.NRGBA{R: 40, G: 110, B: 255, A: 255}
	}
	t := min(v, 1)
	return color.NRGBA{R: 255, G: uint8(40 + 200*t), B: 0, A: 255}
}

func abs(v float32) float32 { return max(v, -v) }

// encoder writes PNGs fast: the pictures are small and made per request,
// so speed matters more than the last bytes of compression.
var encoder = png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &bufferPool{}}

// EncodePNG writes the overlay of m on img as a PNG to w.
func EncodePNG(w io.Writer, img []byte, m *Map, scale int) error {
	out, err := Overlay(img, m, scale)
	if err != nil {
		return err
	}
	if err := encoder.Encode(w, out); err != nil {
		return fmt.Errorf("encode saliency png: %w", err)
	}
	return nil
}

// bufferPool keeps the PNG encoder's buffers between requests.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() *png.EncoderBuffer {
	if v, ok := b.p.Get().(*png.EncoderBuffer); ok {
		return v
	}
	return nil
}

func (b *bufferPool) Put(v *png.EncoderBuffer) { b.p.Put(v) }
