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
	DefaultScale = 8 // 224x224: the page shows it 112 px wide, sharp on a display of 2 pixels a point
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
	// The image keeps its square pixels, as the model saw them; the map is
	// interpolated between pixel centres, since it measures regions, not
	// pixels: first along each of its rows, then between two such rows.
	top := m.MaxAbs()
	if top == 0 {
		top = 1 // all zero: no colour anywhere
	}
	rows := make([]float32, Side*side)
	for r := 0; r < Side; r++ {
		for x := 0; x < side; x++ {
			x0, x1, f := taps(x, scale)
			rows[r*side+x] = (m[r*Side+x0]*(1-f) + m[r*Side+x1]*f) / top
		}
	}
	for y := 0; y < side; y++ {
		y0, y1, fy := taps(y, scale)
		a, b := rows[y0*side:(y0+1)*side], rows[y1*side:(y1+1)*side]
		src := img[(y/scale)*Side : (y/scale+1)*Side]
		row := out.Pix[y*out.Stride : y*out.Stride+4*side]
		for x := 0; x < side; x++ {
			v := a[x]*(1-fy) + b[x]*fy
			g := float32(src[x/scale]) * 0.7 // grey, so the colours stand out on the strokes
			c := heat(v)
			al := min(abs(v), 1) * 0.8
			p := row[4*x : 4*x+4]
			p[0] = uint8(g*(1-al) + float32(c.R)*al)
			p[1] = uint8(g*(1-al) + float32(c.G)*al)
			p[2] = uint8(g*(1-al) + float32(c.B)*al)
			p[3] = 255
		}
	}
	return out, nil
}

// taps returns the two map pixels that output pixel i (of a picture drawn
// scale times larger) lies between, and the weight of the second,
// clamped at the edges.
func taps(i, scale int) (lo, hi int, f float32) {
	c := min(max((float32(i)+0.5)/float32(scale)-0.5, 0), Side-1)
	lo = int(c)
	return lo, min(lo+1, Side-1), c - float32(lo)
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
