// Package mnist reads the MNIST handwritten-digit files in the IDX format and
// hands them out as batches ready for a network, knowing nothing of the network.
package mnist

import "math/rand/v2"

// The geometry of MNIST, declared here once for every package: images are
// Side x Side bytes (Pixels in all), labels are the digits 0..Classes-1.
const (
	Side    = 28
	Pixels  = Side * Side
	Classes = 10
)

// Set is a set of images with their labels. Images holds Len()*Pixels bytes,
// row by row, white digit on black.
type Set struct {
	Images []byte
	Labels []byte
}

// Len returns the number of images in the set.
func (s *Set) Len() int { return len(s.Labels) }

// Image returns the Pixels bytes of image i, sharing the set's memory.
func (s *Set) Image(i int) []byte {
	return s.Images[i*Pixels : (i+1)*Pixels : (i+1)*Pixels]
}

// Slice returns images lo..hi-1 as a set sharing memory with s.
func (s *Set) Slice(lo, hi int) *Set {
	// Capping capacity keeps an append on one part from overwriting the next.
	return &Set{
		Images: s.Images[lo*Pixels : hi*Pixels : hi*Pixels],
		Labels: s.Labels[lo:hi:hi],
	}
}

// Split returns the first n images and the rest, both sharing memory with s;
// n must be within 0..Len().
func (s *Set) Split(n int) (first, rest *Set) {
	return s.Slice(0, n), s.Slice(n, s.Len())
}

// Permutation returns a random order of 0..n-1 that depends only on seed, so
// that training runs repeat exactly on every machine.
func Permutation(n int, seed uint64) []int {
	return rand.New(rand.NewPCG(seed, 0)).Perm(n)
}

// scale maps a byte to its float32 in [0,1]; a table keeps Fill to a load per pixel.
var scale = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// Fill writes the images idx of s into x as float32 scaled to [0,1]
// (len(idx)*Pixels values) and their labels into y (len(idx) values). The
// buffers belong to the caller and are reused across batches, so Fill
// allocates nothing; it panics when they are too short, as copy into a short
// slice would silently lose data.
func (s *Set) Fill(idx []int, x []float32, y []byte) {
	if len(x) < len(idx)*Pixels || len(y) < len(idx) {
		panic("mnist: Fill buffers shorter than the batch")
	}
	for b, i := range idx {
		dst := x[b*Pixels : (b+1)*Pixels]
		for p, v := range s.Image(i) {
			dst[p] = scale[v]
		}
		y[b] = s.Labels[i]
	}
}
