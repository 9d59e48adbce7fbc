package mnist_test

import (
	"bytes"
	"testing"

	"github.com/mnistserve/app/mnist"
)

// FuzzReadImages checks that no input panics the image parser and that a
// success is consistent with the count it reports.
func FuzzReadImages(f *testing.F) {
	good := imagesFile(f, 2)
	f.Add(good)
	f.Add(imagesFile(f, 0))
	f.Add(good[:len(good)-1])
	f.Add(append(bytes.Clone(good), 0))
	f.Add(idx(f, 0x803, []uint32{1 << 31, 28, 28}, make([]byte, 84)))
	f.Add(idx(f, 0x803, []uint32{1, 27, 28}, pixels(1)))
	f.Add(labelsFile(f, 3))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		images, n, err := mnist.ReadImages(bytes.NewReader(in))
		if err != nil {
			if images != nil || n != 0 {
				t.Fatalf("error %v came with %d bytes and n=%d", err, len(images), n)
			}
			return
		}
		if len(images) != n*mnist.Pixels || len(in) != 16+n*mnist.Pixels {
			t.Fatalf("n=%d with %d pixel bytes from a %d-byte stream", n, len(images), len(in))
		}
		if !bytes.Equal(images, in[16:]) {
			t.Fatal("pixels differ from the stream body")
		}
	})
}

// FuzzReadLabels checks that no input panics the label parser and that a
// success holds only digits, exactly the stream body.
func FuzzReadLabels(f *testing.F) {
	good := labelsFile(f, 10)
	f.Add(good)
	f.Add(labelsFile(f, 0))
	f.Add(good[:len(good)-1])
	f.Add(append(bytes.Clone(good), 0))
	f.Add(idx(f, 0x801, []uint32{2}, []byte{1, 10}))
	f.Add(idx(f, 0x801, []uint32{1 << 31}, nil))
	f.Add(imagesFile(f, 1))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		labels, err := mnist.ReadLabels(bytes.NewReader(in))
		if err != nil {
			if labels != nil {
				t.Fatalf("error %v came with %d labels", err, len(labels))
			}
			return
		}
		if len(in) != 8+len(labels) || !bytes.Equal(labels, in[8:]) {
			t.Fatalf("%d labels from a %d-byte stream, want the body after the 8-byte header", len(labels), len(in))
		}
		for i, l := range labels {
			if l > 9 {
				t.Fatalf("label %d is %d, want a digit", i, l)
			}
		}
	})
}
