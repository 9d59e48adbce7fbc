package train

import (
	"math"
	"math/rand/v2"

	"github.com/mnistserve/app/mnist"
)

// Affine is a small geometric change of a 28x28 image about its centre:
// rotate by Angle degrees (counter-clockwise as the image is seen, y
// growing downwards), scale by Scale, then shift by DX, DY pixels.
type Affine struct {
	Angle, Scale, DX, DY float64
}

// Apply writes src (28x28 floats, row by row) transformed by a into dst,
// sampling bilinearly; what comes from outside the image is 0 (black).
// dst and src must not overlap.
func (a Affine) Apply(dst, src []float32) {
	const c = (mnist.Side - 1) / 2.0
	// Each output pixel reads the source at the inverse transform: with y
	// downwards, a counter-clockwise turn on screen is a clockwise one in
	// the maths, so the inverse turns by +Angle.
	sin, cos := math.Sincos(a.Angle * math.Pi / 180)
	inv := 1 / a.Scale
	for y := range mnist.Side {
		for x := range mnist.Side {
			u, v := float64(x)-c-a.DX, float64(y)-c-a.DY
			sx := (u*cos-v*sin)*inv + c
			sy := (u*sin+v*cos)*inv + c
			dst[y*mnist.Side+x] = bilinear(src, sx, sy)
		}
	}
}

// bilinear samples src at (x, y), 0 outside the image.
func bilinear(src []float32, x, y float64) float32 {
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := float32(x-x0), float32(y-y0)
	ix, iy := int(x0), int(y0)
	at := func(x, y int) float32 {
		if x < 0 || y < 0 || x >= mnist.Side || y >= mnist.Side {
			return 0
		}
		return src[y*mnist.Side+x]
	}
	top := at(ix, iy)*(1-fx) + at(ix+1, iy)*fx
	bottom := at(ix, iy+1)*(1-fx) + at(ix+1, iy+1)*fx
	return top*(1-fy) + bottom*fy
}

// Augmentation bounds of --augment: small enough that a digit stays the
// same digit (a 6 rotated far becomes a 9).
const (
	augmentAngle = 15  // degrees either way
	augmentScale = 0.1 // 0.9 .. 1.1
	augmentShift = 2.0 // pixels either way
)

// randomAffine draws an augmentation from r.
func randomAffine(r *rand.Rand) Affine {
	return Affine{
		Angle: (r.Float64()*2 - 1) * augmentAngle,
		Scale: 1 + (r.Float64()*2-1)*augmentScale,
		DX:    (r.Float64()*2 - 1) * augmentShift,
		DY:    (r.Float64()*2 - 1) * augmentShift,
	}
}

// augmentBatch gives each of the n images in x its own random affine,
// drawn from a generator seeded by the run's seed, the epoch and the step,
// so the same seed gives the same images whatever the number of workers.
func augmentBatch(x []float32, n int, seed int64, epoch, step int, scratch []float32) {
	r := rand.New(rand.NewPCG(uint64(seed)*1000003+uint64(epoch), uint64(step)))
	for i := range n {
		img := x[i*mnist.Pixels : (i+1)*mnist.Pixels]
		copy(scratch, img)
		randomAffine(r).Apply(img, scratch)
	}
}
