package imaging

import (
	"fmt"
	"image"
	"math"

	"github.com/mnistserve/app/mnist"
)

// Side is the width and height of an MNIST image in pixels (mnist.Side).
const Side = mnist.Side

const (
	// digitBox is the square the digit is scaled into before centring,
	// as in the original MNIST preprocessing.
	digitBox = 20
	// minContrast is how many grey levels the darkest and lightest parts
	// must differ by before we believe there is a digit at all.
	minContrast = 32
	// inkLevel is the stretched grey level from which a pixel counts as
	// digit when finding the bounding box; fainter ones are noise.
	inkLevel = 26
)

// FromImage converts an already-decoded image to the 784 MNIST bytes the
// same way Decode does: grayscale, white digit on black, cropped to the
// digit, scaled so its longer side is 20 px and centred by mass in 28x28.
func FromImage(img image.Image) ([]byte, error) {
	if img == nil {
		return nil, fmt.Errorf("%w: no image", ErrNotImage)
	}
	if img.Bounds().Empty() {
		return nil, fmt.Errorf("%w: the image has no pixels", ErrEmpty)
	}
	g := toGray(img)
	if err := stretch(g); err != nil {
		return nil, err
	}
	bbox := image.Rectangle{}
	if clearBackground(g) {
		bbox = inkBounds(smooth3(g)).Intersect(g.Bounds())
	} else {
		bbox = inkBounds(g)
	}
	if bbox.Empty() {
		return nil, ErrEmpty
	}
	return centre(brighten(scaleToBox(g, bbox))), nil
}

// brighten scales d so that its brightest pixel is 255, as in every MNIST
// digit. Shrinking a picture averages a thin stroke with the background
// around it: a 1 drawn with a fine pen or typed in a light font would
// otherwise reach the network as a faint grey line.
func brighten(d *image.Gray) *image.Gray {
	hi := 0
	for _, v := range d.Pix {
		hi = max(hi, int(v))
	}
	if hi == 0 || hi == 255 {
		return d
	}
	for i, v := range d.Pix {
		d.Pix[i] = uint8(min(255, (int(v)*255+hi/2)/hi))
	}
	return d
}

// stretch makes g white-on-black in place and maps its background level to
// 0 and its brightest ink to 255. The border tells background from ink: a
// light border means dark ink on paper, which MNIST has the other way round.
func stretch(g *image.Gray) error {
	var hist [256]int
	n := 0
	eachBorder(g.Bounds(), func(x, y int) {
		hist[g.Pix[g.PixOffset(x, y)]]++
		n++
	})
	sum := 0
	for v, c := range hist {
		sum += v * c
	}
	if 2*sum > 255*n {
		for i, v := range g.Pix {
			g.Pix[i] = 255 - v
		}
		for v := 0; v < 128; v++ {
			hist[v], hist[255-v] = hist[255-v], hist[v]
		}
	}
	// The median rather than the mean, so that strokes touching the border
	// do not lift the background level.
	lo, seen := 0, 0
	for v, c := range hist {
		seen += c
		if 2*seen >= n {
			lo = v
			break
		}
	}
	hi := 0
	for _, v := range g.Pix {
		hi = max(hi, int(v))
	}
	if hi-lo < minContrast {
		return fmt.Errorf("%w: no contrast between digit and background (%d grey levels)", ErrEmpty, max(hi-lo, 0))
	}
	scale := 255 / float64(hi-lo)
	for i, v := range g.Pix {
		s := math.Round(float64(int(v)-lo) * scale)
		g.Pix[i] = uint8(min(max(s, 0), 255))
	}
	return nil
}

// inkBounds returns the smallest rectangle holding every pixel at or above
// inkLevel, or an empty rectangle when there is none.
func inkBounds(g *image.Gray) image.Rectangle {
	b := g.Bounds()
	minX, minY, maxX, maxY := b.Max.X, b.Max.Y, b.Min.X-1, b.Min.Y-1
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := g.Pix[g.PixOffset(b.Min.X, y) : g.PixOffset(b.Min.X, y)+b.Dx()]
		for i, v := range row {
			if v < inkLevel {
				continue
			}
			x := b.Min.X + i
			minX, maxX = min(minX, x), max(maxX, x)
			minY, maxY = min(minY, y), max(maxY, y)
		}
	}
	if maxX < minX {
		return image.Rectangle{}
	}
	return image.Rect(minX, minY, maxX+1, maxY+1)
}

// scaleToBox scales the part of g inside r, keeping its aspect ratio, so that
// its longer side is digitBox pixels.
func scaleToBox(g *image.Gray, r image.Rectangle) *image.Gray {
	w, h := r.Dx(), r.Dy()
	long := max(w, h)
	sw := max(1, int(math.Round(float64(w)*digitBox/float64(long))))
	sh := max(1, int(math.Round(float64(h)*digitBox/float64(long))))
	return resize(g, r, sw, sh)
}

// centre places d in a Side x Side field so that its centre of mass lands
// on pixel (14,14), moving by whole pixels as the original MNIST did. The
// shift is clamped so that no ink is cut off at an edge.
func centre(d *image.Gray) []byte {
	w, h := d.Bounds().Dx(), d.Bounds().Dy()
	cx, cy := massCentre(d.Pix, d.Stride, w, h)
	ox := min(max(int(math.Round(Side/2-cx)), 0), Side-w)
	oy := min(max(int(math.Round(Side/2-cy)), 0), Side-h)
	out := make([]byte, Side*Side)
	for y := 0; y < h; y++ {
		copy(out[(oy+y)*Side+ox:], d.Pix[y*d.Stride:y*d.Stride+w])
	}
	return out
}

// massCentre returns the intensity-weighted mean (x, y) pixel index of a
// w x h grey image stored with the given stride; the middle when it is black.
func massCentre(pix []byte, stride, w, h int) (cx, cy float64) {
	var sum, sx, sy float64
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := float64(pix[y*stride+x])
			sum += v
			sx += v * float64(x)
			sy += v * float64(y)
		}
	}
	if sum == 0 {
		return float64(w-1) / 2, float64(h-1) / 2
	}
	return sx / sum, sy / sum
}
