package robust

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/mnistserve/app/mnist"
)

// grid is a grey picture with ink 1 and background 0, white on black as
// MNIST stores it, before it becomes a user's PNG.
type grid struct {
	w, h int
	v    []float32
}

func newGrid(w, h int) grid { return grid{w, h, make([]float32, w*h)} }

// fromMNIST turns 784 MNIST bytes into a 28x28 grid.
func fromMNIST(img []byte) grid {
	g := newGrid(mnist.Side, mnist.Side)
	for i, b := range img {
		g.v[i] = float32(b) / 255
	}
	return g
}

// at returns the value at (x, y), 0 outside.
func (g grid) at(x, y int) float32 {
	if x < 0 || y < 0 || x >= g.w || y >= g.h {
		return 0
	}
	return g.v[y*g.w+x]
}

// sample reads g bilinearly at (x, y) in pixel-centre coordinates.
func (g grid) sample(x, y float64) float32 {
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := float32(x-x0), float32(y-y0)
	ix, iy := int(x0), int(y0)
	top := g.at(ix, iy)*(1-fx) + g.at(ix+1, iy)*fx
	bottom := g.at(ix, iy+1)*(1-fx) + g.at(ix+1, iy+1)*fx
	return top*(1-fy) + bottom*fy
}

// enlarge scales g up by a whole factor k, interpolating bilinearly (the
// edge pixels extended), as a picture drawn or scanned larger.
func (g grid) enlarge(k int) grid {
	out := newGrid(g.w*k, g.h*k)
	for y := range out.h {
		sy := min(max((float64(y)+0.5)/float64(k)-0.5, 0), float64(g.h-1))
		for x := range out.w {
			sx := min(max((float64(x)+0.5)/float64(k)-0.5, 0), float64(g.w-1))
			out.v[y*out.w+x] = g.sample(sx, sy)
		}
	}
	return out
}

// shrink averages g down to w x h, each output pixel the mean of the
// source area it covers.
func (g grid) shrink(w, h int) grid {
	out := newGrid(w, h)
	fx, fy := float64(g.w)/float64(w), float64(g.h)/float64(h)
	for y := range h {
		for x := range w {
			var sum, area float64
			for sy := int(float64(y) * fy); sy < g.h && float64(sy) < float64(y+1)*fy; sy++ {
				oy := math.Min(float64(y+1)*fy, float64(sy+1)) - math.Max(float64(y)*fy, float64(sy))
				for sx := int(float64(x) * fx); sx < g.w && float64(sx) < float64(x+1)*fx; sx++ {
					ox := math.Min(float64(x+1)*fx, float64(sx+1)) - math.Max(float64(x)*fx, float64(sx))
					sum += float64(g.v[sy*g.w+sx]) * ox * oy
					area += ox * oy
				}
			}
			out.v[y*w+x] = float32(sum / area)
		}
	}
	return out
}

// rotate turns g by deg degrees about its centre, counter-clockwise as
// seen, on a canvas large enough that no ink is cut off.
func (g grid) rotate(deg float64) grid {
	sin, cos := math.Sincos(deg * math.Pi / 180)
	side := int(math.Ceil(math.Abs(cos)*float64(max(g.w, g.h))+math.Abs(sin)*float64(max(g.w, g.h)))) + 2
	out := newGrid(side, side)
	cx, cy := float64(g.w-1)/2, float64(g.h-1)/2
	c := float64(side-1) / 2
	for y := range side {
		for x := range side {
			u, v := float64(x)-c, float64(y)-c
			out.v[y*side+x] = g.sample(u*cos-v*sin+cx, u*sin+v*cos+cy)
		}
	}
	return out
}

// morph returns g with each pixel the max (thicker) or min (thinner) of
// itself and its right, lower and lower-right neighbours: strokes one
// pixel wider or narrower.
func (g grid) morph(thicker bool) grid {
	out := newGrid(g.w, g.h)
	for y := range g.h {
		for x := range g.w {
			a, b, c, d := g.at(x, y), g.at(x+1, y), g.at(x, y+1), g.at(x+1, y+1)
			if thicker {
				out.v[y*g.w+x] = max(a, b, c, d)
			} else {
				out.v[y*g.w+x] = min(a, b, c, d)
			}
		}
	}
	return out
}

// place puts g into a w x h black canvas with its top-left corner at (x, y).
func (g grid) place(w, h, x, y int) grid {
	out := newGrid(w, h)
	for gy := range g.h {
		copy(out.v[(y+gy)*w+x:], g.v[gy*g.w:(gy+1)*g.w])
	}
	return out
}

// paper describes how a grid becomes a PNG: white ink on black (MNIST's
// way, the page's canvas) or, with ink darker than the background, dark
// ink on light paper with an uneven light and sensor noise, as a photo.
type paper struct {
	background float64 // grey level of the paper (0..255)
	ink        float64 // grey level of the ink
	gradient   float64 // grey levels the light falls by across the picture
	noise      float64 // standard deviation of the added noise, grey levels
}

// fastPNG stores the pictures uncompressed: they are made to be decoded at
// once, and deflate (with png's choice of a filter for each row, which it
// skips when nothing is compressed) was most of building the sets. The
// pixels are the same, and so the scores. Its buffers are pooled: even
// storing, a fresh encoder allocates and clears a deflate compressor's
// hash tables, hundreds of KB, and the sets hold thousands of pictures.
var fastPNG = png.Encoder{CompressionLevel: png.NoCompression, BufferPool: &encoderPool{}}

// encoderPool keeps png's encoder buffers for reuse across goroutines.
type encoderPool struct{ p sync.Pool }

func (e *encoderPool) Get() *png.EncoderBuffer {
	b, _ := e.p.Get().(*png.EncoderBuffer)
	return b
}

func (e *encoderPool) Put(b *png.EncoderBuffer) { e.p.Put(b) }

// mnistPaper is white ink on black at full contrast.
var mnistPaper = paper{background: 0, ink: 255}

// png encodes g on p as an 8-bit grey PNG, drawing noise from r.
func (g grid) png(p paper, r *rand.Rand) ([]byte, error) {
	img := image.NewGray(image.Rect(0, 0, g.w, g.h))
	for y := range g.h {
		for x := range g.w {
			light := p.background - p.gradient*float64(x+y)/float64(g.w+g.h)
			v := light + (p.ink-light)*float64(g.v[y*g.w+x])
			if p.noise > 0 {
				v += r.NormFloat64() * p.noise
			}
			img.Pix[y*img.Stride+x] = uint8(min(max(math.Round(v), 0), 255))
		}
	}
	var b bytes.Buffer
	if err := fastPNG.Encode(&b, img); err != nil {
		return nil, fmt.Errorf("encode png: %w", err)
	}
	return b.Bytes(), nil
}
