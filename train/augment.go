package train

import (
	"math"
	"math/rand/v2"

	"github.com/mnistserve/app/internal/kernels"
	"github.com/mnistserve/app/mnist"
)

// Affine is a small geometric change of a 28x28 image about its centre:
// shear horizontally by Shear (x moves by Shear*y), scale by Scale (and the
// width further by Aspect: 1 keeps it), rotate by Angle degrees
// (counter-clockwise as the image is seen, y growing downwards), then shift
// by DX, DY pixels. An Aspect or Scale of 0 counts as 1.
type Affine struct {
	Angle, Scale, DX, DY float64
	Aspect, Shear        float64
}

// Apply writes src (28x28 floats, row by row) transformed by a into dst,
// sampling bilinearly; what comes from outside the image is 0 (black).
// dst and src must not overlap.
func (a Affine) Apply(dst, src []float32) {
	var pad padded
	a.apply(dst, src, &pad)
}

// padSide is the side of a 28x28 image with a black border of one pixel,
// which lets bilinear sampling skip its bounds checks.
const padSide = mnist.Side + 2

type padded [padSide * padSide]float32

func (a Affine) apply(dst, src []float32, pad *padded) {
	const c = (mnist.Side - 1) / 2.0
	// The ink's bounding box, in the padded image's coordinates: a sample
	// at least a pixel outside it reads only black taps, so it is 0 without
	// reading them (most of the picture: a digit fills about half of it).
	x0, y0, x1, y1 := padSide, padSide, -1, -1
	for y := range mnist.Side {
		row := src[y*mnist.Side : (y+1)*mnist.Side]
		copy(pad[(y+1)*padSide+1:], row)
		for x, v := range row {
			if v != 0 {
				x0, x1 = min(x0, x+1), max(x1, x+1)
				y0, y1 = min(y0, y+1), max(y1, y+1)
			}
		}
	}
	if x1 < 0 {
		clear(dst[:mnist.Pixels])
		return
	}
	// Taps outside the box are 0 when the sample is at or beyond one pixel
	// from it (a tap at the box's edge then has weight 0), so inside these
	// open bounds lie all the samples that can be non-zero, and all lie in
	// the padded image, whose bounds bilinear need not check.
	lx, hx, ly, hy := float64(x0-1), float64(x1+1), float64(y0-1), float64(y1+1)
	scale, aspect := a.Scale, a.Aspect
	if scale == 0 {
		scale = 1
	}
	if aspect == 0 {
		aspect = 1
	}
	// Each output pixel reads the source at the inverse transform: undo
	// the shift, the turn (with y downwards, a counter-clockwise turn on
	// screen is a clockwise one in the maths, so the inverse turns by
	// +Angle), the scale, then the shear.
	sin, cos := math.Sincos(a.Angle * math.Pi / 180)
	sx, sy := 1/(scale*aspect), 1/scale
	// src = Shear⁻¹ · Scale⁻¹ · Rot⁻¹ · (out - centre - shift) + centre
	m00, m01 := cos*sx, -sin*sx
	m10, m11 := sin*sy, cos*sy
	m00, m01 = m00-a.Shear*m10, m01-a.Shear*m11
	for y := range mnist.Side {
		v := float64(y) - c - a.DY
		u := -c - a.DX
		// Sample in the padded image's coordinates: one more each way.
		px, py := m00*u+m01*v+c+1, m10*u+m11*v+c+1
		row := dst[y*mnist.Side : (y+1)*mnist.Side]
		for x := range row {
			if px > lx && px < hx && py > ly && py < hy {
				row[x] = pad.bilinear(px, py)
			} else {
				row[x] = 0
			}
			px += m00
			py += m10
		}
	}
}

// bilinear samples the padded image at (x, y), for 0 < x, y < padSide-1.
func (p *padded) bilinear(x, y float64) float32 {
	ix, iy := int(x), int(y)
	fx, fy := float32(x-float64(ix)), float32(y-float64(iy))
	i := iy*padSide + ix
	top := p[i]*(1-fx) + p[i+1]*fx
	bottom := p[i+padSide]*(1-fx) + p[i+padSide+1]*fx
	return top*(1-fy) + bottom*fy
}

// Bounds of the default augmentation: small enough that a digit stays the
// same digit (a 6 turned far becomes a 9, a 1 sheared far a 7).
const (
	augmentAngle  = 12   // degrees either way
	augmentScale  = 0.12 // 0.88 .. 1.12
	augmentAspect = 0.12 // the width by a further 0.88 .. 1.12
	augmentShear  = 0.2  // x moves by up to 0.2*y either way
	augmentShift  = 2.0  // pixels either way

	// Shares of the images that also get a stroke one pixel thicker, one
	// pixel thinner, or a resolution of 7x7 to 14x14 (a blur).
	augmentThicker = 0.15
	augmentThinner = 0.15
	augmentLowRes  = 0.15
	augmentLowMin  = 7
	augmentLowMax  = 14
)

// randomAffine draws an augmentation from r.
func randomAffine(r *rand.Rand) Affine {
	sym := func(v float64) float64 { return (r.Float64()*2 - 1) * v }
	return Affine{
		Angle:  sym(augmentAngle),
		Scale:  1 + sym(augmentScale),
		Aspect: 1 + sym(augmentAspect),
		Shear:  sym(augmentShear),
		DX:     sym(augmentShift),
		DY:     sym(augmentShift),
	}
}

// augmenter holds one worker's scratch images.
type augmenter struct {
	pad  padded
	a, b []float32
	low  []float32
}

func newAugmenter() *augmenter {
	return &augmenter{
		a: make([]float32, mnist.Pixels), b: make([]float32, mnist.Pixels),
		low: make([]float32, augmentLowMax*augmentLowMax),
	}
}

// image augments img, a picture of label, in place with the changes r
// draws.
func (g *augmenter) image(img []float32, label byte, r *rand.Rand) {
	addStrokes(img, label, r)
	copy(g.a, img)
	randomAffine(r).apply(img, g.a, &g.pad)
	switch p := r.Float64(); {
	case p < augmentThicker:
		morph(g.a, img, true)
		copy(img, g.a)
	case p < augmentThicker+augmentThinner:
		morph(g.a, img, false)
		copy(img, g.a)
	}
	if r.Float64() < augmentLowRes {
		side := augmentLowMin + r.IntN(augmentLowMax-augmentLowMin+1)
		lowRes(img, g.low[:side*side], side)
	}
}

// morph writes to dst the max (thicker strokes) or min (thinner) of each
// pixel of src and its right, lower and lower-right neighbours: a 2x2
// structuring element, one pixel of stroke width.
func morph(dst, src []float32, thicker bool) {
	const s = mnist.Side
	pick := func(a, b float32) float32 {
		if thicker {
			return max(a, b)
		}
		return min(a, b)
	}
	for y := range s {
		for x := range s {
			v := src[y*s+x]
			if x+1 < s {
				v = pick(v, src[y*s+x+1])
			} else {
				v = pick(v, 0)
			}
			if y+1 < s {
				v = pick(v, src[(y+1)*s+x])
				if x+1 < s {
					v = pick(v, src[(y+1)*s+x+1])
				}
			} else {
				v = pick(v, 0)
			}
			dst[y*s+x] = v
		}
	}
}

// lowRes averages img down to side x side pixels (low, scratch) and
// interpolates it back up to 28x28 in place, as a digit photographed or
// scanned at a low resolution and enlarged.
func lowRes(img, low []float32, side int) {
	const s = mnist.Side
	clear(low)
	f := float64(side) / s
	for y := range s {
		ly := int(float64(y) * f)
		for x := range s {
			low[ly*side+int(float64(x)*f)] += img[y*s+x]
		}
	}
	// Each low pixel covers whole source pixels (floor mapping), so count them.
	var count [augmentLowMax]float32
	for x := range s {
		count[int(float64(x)*f)]++
	}
	for ly := range side {
		for lx := range side {
			low[ly*side+lx] /= count[ly] * count[lx]
		}
	}
	inv := float64(side) / s
	for y := range s {
		sy := (float64(y)+0.5)*inv - 0.5
		for x := range s {
			sx := (float64(x)+0.5)*inv - 0.5
			img[y*s+x] = sampleClamped(low, side, sx, sy)
		}
	}
}

// sampleClamped samples a side x side image bilinearly at (x, y), the
// edge pixels extended outwards.
func sampleClamped(img []float32, side int, x, y float64) float32 {
	x = min(max(x, 0), float64(side-1))
	y = min(max(y, 0), float64(side-1))
	ix, iy := int(x), int(y)
	fx, fy := float32(x-float64(ix)), float32(y-float64(iy))
	jx, jy := min(ix+1, side-1), min(iy+1, side-1)
	top := img[iy*side+ix]*(1-fx) + img[iy*side+jx]*fx
	bottom := img[jy*side+ix]*(1-fx) + img[jy*side+jx]*fx
	return top*(1-fy) + bottom*fy
}

// imageRand returns the generator of the i-th image of a step: seeded by
// the run's seed, the epoch, the step and i alone, so the same seed gives
// the same images however many workers share the batch.
func imageRand(seed int64, epoch, step, i int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed)*1000003+uint64(epoch), uint64(step)<<16|uint64(i)))
}

// augmentBatch augments each of the n images in x (labelled labels), spreading them over
// the workers' augmenters (kernels.Parallel: one contiguous share each).
func augmentBatch(x []float32, labels []byte, n int, seed int64, epoch, step int, workers []*augmenter) {
	kernels.Parallel(n, len(workers), func(w, lo, hi int) {
		for i := lo; i < hi; i++ {
			workers[w].image(x[i*mnist.Pixels:(i+1)*mnist.Pixels], labels[i], imageRand(seed, epoch, step, i))
		}
	})
}
