package mnist_test

import (
	"bytes"
	"errors"
	"runtime"
	"testing"

	"github.com/mnistserve/app/mnist"
)

func TestReadImages(t *testing.T) {
	good := imagesFile(t, 3)
	tests := []struct {
		name    string
		in      []byte
		wantN   int
		wantErr error
	}{
		{"three good images parse", good, 3, nil},
		{"an empty set with a full header parses", imagesFile(t, 0), 0, nil},
		{"a label magic number is refused", idx(t, 0x801, []uint32{3, 28, 28}, pixels(3)), 0, mnist.ErrBadMagic},
		{"27x28 images are refused", idx(t, 0x803, []uint32{3, 27, 28}, pixels(3)), 0, mnist.ErrBadDims},
		{"28x27 images are refused", idx(t, 0x803, []uint32{3, 28, 27}, pixels(3)), 0, mnist.ErrBadDims},
		{"an empty stream is truncated", nil, 0, mnist.ErrTruncated},
		{"a header cut after the count is truncated", good[:8], 0, mnist.ErrTruncated},
		{"a body one byte short is truncated", good[:len(good)-1], 0, mnist.ErrTruncated},
		{"a header claiming 2^31 images on a tiny stream is truncated", idx(t, 0x803, []uint32{1 << 31, 28, 28}, make([]byte, 84)), 0, mnist.ErrTruncated},
		{"a header claiming the maximum count with no body is truncated", idx(t, 0x803, []uint32{1<<32 - 1, 28, 28}, nil), 0, mnist.ErrTruncated},
		{"one byte after the body is refused", append(bytes.Clone(good), 0), 0, mnist.ErrTrailing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			images, n, err := mnist.ReadImages(bytes.NewReader(tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if images != nil || n != 0 {
					t.Errorf("on error got %d bytes and n=%d, want nothing", len(images), n)
				}
				return
			}
			if n != tt.wantN || !bytes.Equal(images, pixels(tt.wantN)) {
				t.Errorf("got n=%d and %d bytes, want n=%d and the pixels written", n, len(images), tt.wantN)
			}
		})
	}
}

func TestReadImagesDoesNotTrustTheHeaderCount(t *testing.T) {
	// 2^21 images would be 1.6 GB: a parser that preallocates what the header
	// claims shows it in TotalAlloc, one that grows with the data does not.
	in := idx(t, 0x803, []uint32{1 << 21, 28, 28}, make([]byte, 84))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := mnist.ReadImages(bytes.NewReader(in))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, mnist.ErrTruncated) {
		t.Fatalf("err = %v, want ErrTruncated", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
		t.Errorf("reading a 100-byte stream allocated %d bytes: the header's count was trusted", grew)
	}
}

func TestReadLabels(t *testing.T) {
	good := labelsFile(t, 10)
	tests := []struct {
		name    string
		in      []byte
		want    []byte
		wantErr error
	}{
		{"ten good labels parse", good, digits(10), nil},
		{"an empty set with a full header parses", labelsFile(t, 0), []byte{}, nil},
		{"an image magic number is refused", idx(t, 0x803, []uint32{10}, digits(10)), nil, mnist.ErrBadMagic},
		{"a label of 10 is refused", idx(t, 0x801, []uint32{3}, []byte{1, 10, 2}), nil, mnist.ErrBadLabel},
		{"a label of 255 is refused", idx(t, 0x801, []uint32{1}, []byte{255}), nil, mnist.ErrBadLabel},
		{"a header cut in the magic is truncated", good[:3], nil, mnist.ErrTruncated},
		{"a body one byte short is truncated", good[:len(good)-1], nil, mnist.ErrTruncated},
		{"a header claiming 2^31 labels on a tiny stream is truncated", idx(t, 0x801, []uint32{1 << 31}, digits(92)), nil, mnist.ErrTruncated},
		{"one byte after the body is refused", append(bytes.Clone(good), 0), nil, mnist.ErrTrailing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			labels, err := mnist.ReadLabels(bytes.NewReader(tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && !bytes.Equal(labels, tt.want) {
				t.Errorf("labels = %v, want %v", labels, tt.want)
			}
			if err != nil && labels != nil {
				t.Errorf("on error got %d labels, want none", len(labels))
			}
		})
	}
}
