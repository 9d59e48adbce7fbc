// Package saliency tells why a classifier read a 28x28 digit as it did:
// it measures, by occlusion, how much each region of the image supports
// the answer, and draws that as a heat map over the image.
//
// Occlusion rather than the gradient of the class: it needs only forward
// passes, which the served model does fast and in batches, while the
// network's backward pass lives in the training graph and stops before
// the input (the first layer needs no input gradient). It also measures
// what blacking out a stroke really does to the answer, not a local slope
// that a saturated softmax or a ReLU can make near zero or noisy.
package saliency

import (
	"context"
	"errors"
	"fmt"
)

// Geometry of the images and of the occluding patches.
const (
	Side    = 28          // images are Side x Side
	Pixels  = Side * Side // 784 bytes, row by row
	Classes = 10

	// Patch is the side of the black square laid over the image, about
	// the width of a pen stroke; Stride is the step between squares, so
	// each pixel is judged by up to (Patch/Stride)^2 = 9 squares.
	Patch  = 6
	Stride = 2
	// Steps is the number of patch positions along each axis (0..22).
	Steps = (Side-Patch)/Stride + 1
)

// ErrBadInput is wrapped by errors about an image or class that cannot be
// explained.
var ErrBadInput = errors.New("bad saliency input")

// PredictFunc answers the class probabilities of each 784-byte image, as
// the served model does.
type PredictFunc func(ctx context.Context, images [][]byte) ([][Classes]float32, error)

// Map holds, for each pixel, the mean drop of the class's probability when
// a patch covering it is blacked out: positive where the ink supports the
// class, negative where hiding it would make the class likelier.
type Map [Pixels]float32

// MaxAbs returns the largest magnitude in m, 0 for an all-zero map.
func (m *Map) MaxAbs() float32 {
	var top float32
	for _, v := range m {
		top = max(top, v, -v)
	}
	return top
}

// Occlusion computes the saliency of class for img with predict. Patches
// that cover only black pixels change nothing, so they are not sent to the
// model: a typical digit needs 60 to 100 images besides the original, in
// one call.
func Occlusion(ctx context.Context, predict PredictFunc, img []byte, class int) (*Map, error) {
	if len(img) != Pixels {
		return nil, fmt.Errorf("image has %d bytes, want %d: %w", len(img), Pixels, ErrBadInput)
	}
	if class < 0 || class >= Classes {
		return nil, fmt.Errorf("class %d is not 0..%d: %w", class, Classes-1, ErrBadInput)
	}
	// One buffer for every occluded copy: a single allocation however many
	// patches touch ink.
	var pos []int // patch index (row*Steps + col) of each occluded copy
	for py := 0; py < Steps; py++ {
		for px := 0; px < Steps; px++ {
			if inked(img, py*Stride, px*Stride) {
				pos = append(pos, py*Steps+px)
			}
		}
	}
	buf := make([]byte, (len(pos)+1)*Pixels)
	batch := make([][]byte, len(pos)+1)
	batch[0] = img
	for i, p := range pos {
		b := buf[(i+1)*Pixels : (i+2)*Pixels]
		copy(b, img)
		y0, x0 := p/Steps*Stride, p%Steps*Stride
		for y := y0; y < y0+Patch; y++ {
			clear(b[y*Side+x0 : y*Side+x0+Patch])
		}
		batch[i+1] = b
	}
	probs, err := predict(ctx, batch)
	if err != nil {
		return nil, fmt.Errorf("occlusion: %w", err)
	}
	if len(probs) != len(batch) {
		return nil, fmt.Errorf("occlusion: the model answered %d of %d images", len(probs), len(batch))
	}
	base := probs[0][class]
	var drop [Steps * Steps]float32 // zero for the patches not sent: nothing changed
	for i, p := range pos {
		drop[p] = base - probs[i+1][class]
	}
	return spread(&drop), nil
}

// inked reports whether the patch at (y0, x0) covers a pixel that is not
// black.
func inked(img []byte, y0, x0 int) bool {
	for y := y0; y < y0+Patch; y++ {
		for _, v := range img[y*Side+x0 : y*Side+x0+Patch] {
			if v != 0 {
				return true
			}
		}
	}
	return false
}

// spread gives each pixel the mean drop of the patches that cover it.
func spread(drop *[Steps * Steps]float32) *Map {
	var sum Map
	var n [Pixels]uint8
	for py := 0; py < Steps; py++ {
		for px := 0; px < Steps; px++ {
			d := drop[py*Steps+px]
			for y := py * Stride; y < py*Stride+Patch; y++ {
				for x := px * Stride; x < px*Stride+Patch; x++ {
					sum[y*Side+x] += d
					n[y*Side+x]++
				}
			}
		}
	}
	for i := range sum {
		sum[i] /= float32(n[i]) // every pixel is covered: (Side-Patch) is a multiple of Stride
	}
	return &sum
}
