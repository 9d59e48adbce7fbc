package mnist_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/mnistserve/app/mnist"
)

// testSet returns n images where every pixel of image i is byte(i*25), and labels i%10.
func testSet(n int) *mnist.Set {
	s := &mnist.Set{Images: make([]byte, n*mnist.Pixels), Labels: digits(n)}
	for i := range n {
		for p := range mnist.Pixels {
			s.Images[i*mnist.Pixels+p] = byte(i * 25)
		}
	}
	return s
}

func TestPermutation(t *testing.T) {
	t.Run("the result holds each index exactly once", func(t *testing.T) {
		for _, n := range []int{0, 1, 2, 1000} {
			p := mnist.Permutation(n, 7)
			sorted := slices.Sorted(slices.Values(p))
			for i, v := range sorted {
				if v != i {
					t.Fatalf("Permutation(%d): sorted result has %d at %d, want a permutation of 0..%d", n, v, i, n-1)
				}
			}
			if len(p) != n {
				t.Fatalf("Permutation(%d) has %d elements", n, len(p))
			}
		}
	})

	t.Run("the same seed gives the same order", func(t *testing.T) {
		if a, b := mnist.Permutation(1000, 42), mnist.Permutation(1000, 42); !slices.Equal(a, b) {
			t.Error("two calls with seed 42 differ")
		}
	})

	t.Run("different seeds give different orders", func(t *testing.T) {
		if a, b := mnist.Permutation(1000, 1), mnist.Permutation(1000, 2); slices.Equal(a, b) {
			t.Error("seeds 1 and 2 gave the same order")
		}
	})

	t.Run("the order is shuffled, not the identity", func(t *testing.T) {
		p := mnist.Permutation(1000, 1)
		fixed := 0
		for i, v := range p {
			if i == v {
				fixed++
			}
		}
		// A random permutation has about one fixed point.
		if fixed > 10 {
			t.Errorf("%d of 1000 indexes stayed in place", fixed)
		}
	})
}

func TestFill(t *testing.T) {
	s := testSet(11) // image 10 is all 250, image 0 all 0
	s.Images[3*mnist.Pixels+5] = 255
	idx := []int{3, 0, 10}
	x := make([]float32, len(idx)*mnist.Pixels)
	y := make([]byte, len(idx))
	s.Fill(idx, x, y)

	t.Run("labels follow the indexes", func(t *testing.T) {
		if want := []byte{3, 0, 0}; !bytes.Equal(y, want) {
			t.Errorf("y = %v, want %v", y, want)
		}
	})

	t.Run("255 becomes exactly 1 and 0 exactly 0", func(t *testing.T) {
		if got := x[5]; got != 1 {
			t.Errorf("pixel 255 became %v, want 1", got)
		}
		for p, v := range x[mnist.Pixels : 2*mnist.Pixels] {
			if v != 0 {
				t.Fatalf("pixel %d of black image 0 became %v, want 0", p, v)
			}
		}
	})

	t.Run("every pixel is its byte over 255 at its place", func(t *testing.T) {
		for b, i := range idx {
			for p, v := range s.Image(i) {
				if got, want := x[b*mnist.Pixels+p], float32(v)/255; got != want {
					t.Fatalf("batch %d pixel %d = %v, want %v", b, p, got, want)
				}
			}
		}
	})

	t.Run("refilling reused buffers allocates nothing", func(t *testing.T) {
		if allocs := testing.AllocsPerRun(10, func() { s.Fill(idx, x, y) }); allocs != 0 {
			t.Errorf("Fill allocated %v times per run, want 0", allocs)
		}
	})
}

func TestSetViews(t *testing.T) {
	s := testSet(10)

	t.Run("Image returns the bytes of that image", func(t *testing.T) {
		img := s.Image(4)
		if len(img) != mnist.Pixels || img[0] != 100 || img[mnist.Pixels-1] != 100 {
			t.Errorf("Image(4): %d bytes starting %d, want %d bytes of 100", len(img), img[0], mnist.Pixels)
		}
	})

	t.Run("Slice shares memory and keeps images with their labels", func(t *testing.T) {
		sub := s.Slice(2, 5)
		if sub.Len() != 3 || sub.Labels[0] != 2 || sub.Image(2)[0] != 100 {
			t.Fatalf("Slice(2,5): Len %d, first label %d, last image starts %d", sub.Len(), sub.Labels[0], sub.Image(2)[0])
		}
		sub.Image(0)[0] = 99
		if s.Image(2)[0] != 99 {
			t.Error("writing through the slice did not reach the parent set")
		}
		s.Image(2)[0] = 50
	})

	t.Run("appending to a slice does not overwrite the next image", func(t *testing.T) {
		sub := s.Slice(0, 1)
		_ = append(sub.Images, 7)
		_ = append(sub.Labels, 7)
		if s.Image(1)[0] != 25 || s.Labels[1] != 1 {
			t.Error("append on a slice overwrote image 1 of the parent")
		}
	})

	t.Run("Split gives the first n and the rest", func(t *testing.T) {
		first, rest := s.Split(3)
		if first.Len() != 3 || rest.Len() != 7 || rest.Labels[0] != 3 || rest.Image(0)[0] != 75 {
			t.Errorf("Split(3): %d and %d images, rest starts with label %d", first.Len(), rest.Len(), rest.Labels[0])
		}
	})
}
