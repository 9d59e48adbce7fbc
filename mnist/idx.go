package mnist

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Sentinel errors, for callers that branch with errors.Is.
var (
	// ErrBadMagic means the stream is not the IDX file kind expected.
	ErrBadMagic = errors.New("not an MNIST file of the expected kind")
	// ErrBadDims means an image file whose images are not 28x28.
	ErrBadDims = errors.New("images are not 28x28")
	// ErrTruncated means the stream ends before the header says it should.
	ErrTruncated = errors.New("file is truncated")
	// ErrCountMismatch means an image file and a label file of different lengths.
	ErrCountMismatch = errors.New("image and label counts differ")
	// ErrTrailing means bytes after the data the header announces.
	ErrTrailing = errors.New("unexpected bytes after the data")
	// ErrBadLabel means a label outside 0..9.
	ErrBadLabel = errors.New("label is not a digit 0..9")
)

// The IDX magic numbers: two zero bytes, 0x08 for unsigned bytes, then the
// number of dimensions.
const (
	magicImages = 0x00000803
	magicLabels = 0x00000801
)

// firstChunk bounds the first allocation of a body, so that a header claiming
// billions of items costs little before the stream runs out.
const firstChunk = 1 << 20

// ReadImages parses an IDX3 image stream (magic 0x00000803, count, 28, 28,
// then count*784 bytes) and returns the pixels and the count. It refuses a
// wrong magic, dimensions other than 28x28, a short body and trailing bytes.
func ReadImages(r io.Reader) (images []byte, n int, err error) {
	if err := readMagic(r, magicImages); err != nil {
		return nil, 0, err
	}
	var h [12]byte
	if err := readHeader(r, h[:]); err != nil {
		return nil, 0, err
	}
	count := binary.BigEndian.Uint32(h[0:4])
	rows, cols := binary.BigEndian.Uint32(h[4:8]), binary.BigEndian.Uint32(h[8:12])
	if rows != Side || cols != Side {
		return nil, 0, fmt.Errorf("image size %dx%d, want %dx%d: %w", rows, cols, Side, Side, ErrBadDims)
	}
	images, err = readBody(r, uint64(count)*Pixels, "image data")
	if err != nil {
		return nil, 0, err
	}
	return images, int(count), nil
}

// ReadLabels parses an IDX1 label stream (magic 0x00000801, count, then count
// bytes). It refuses a wrong magic, a short body, trailing bytes and any label
// that is not a digit.
func ReadLabels(r io.Reader) ([]byte, error) {
	if err := readMagic(r, magicLabels); err != nil {
		return nil, err
	}
	var h [4]byte
	if err := readHeader(r, h[:]); err != nil {
		return nil, err
	}
	count := binary.BigEndian.Uint32(h[:])
	labels, err := readBody(r, uint64(count), "label data")
	if err != nil {
		return nil, err
	}
	for i, l := range labels {
		if l > 9 {
			return nil, fmt.Errorf("label %d is %d: %w", i, l, ErrBadLabel)
		}
	}
	return labels, nil
}

func readHeader(r io.Reader, h []byte) error {
	if _, err := io.ReadFull(r, h); err != nil {
		return fmt.Errorf("header: %w", eofAsTruncated(err))
	}
	return nil
}

// readMagic checks the magic number before the rest of the header, so that a
// short file of the wrong kind (a label file given as images) is reported as
// the wrong kind rather than as truncated.
func readMagic(r io.Reader, want uint32) error {
	var b [4]byte
	if err := readHeader(r, b[:]); err != nil {
		return err
	}
	if got := binary.BigEndian.Uint32(b[:]); got != want {
		return fmt.Errorf("bad magic number 0x%08x, want 0x%08x: %w", got, want, ErrBadMagic)
	}
	return nil
}

// readBody reads exactly size bytes and then checks that the stream ends. The
// buffer grows eightfold from firstChunk up to size, so memory follows what
// the stream really holds (at most eight times it) rather than what its
// header claims. Not by doubling: each growth copies what was read into
// fresh pages, and for MNIST's 47 MB of training images doubling copied
// 63 MB more and faulted in 110 MB, about 0.4 s of a training run on a
// 2-core virtual machine; eightfold copies 9 MB.
func readBody(r io.Reader, size uint64, what string) ([]byte, error) {
	if size > math.MaxInt {
		return nil, fmt.Errorf("%d bytes of %s do not fit in memory: %w", size, what, ErrTruncated)
	}
	total := int(size)
	buf := make([]byte, 0, min(total, firstChunk))
	for len(buf) < total {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(8*cap(buf), total))
			copy(grown, buf)
			buf = grown
		}
		got, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+got]
		if err != nil {
			return nil, fmt.Errorf("%s: read %d of %d bytes: %w", what, len(buf), total, eofAsTruncated(err))
		}
	}
	// Reading past the end also makes a gzip reader verify its checksum.
	var extra [1]byte
	switch _, err := io.ReadFull(r, extra[:]); {
	case err == nil:
		return nil, fmt.Errorf("after %d bytes of %s: %w", total, what, ErrTrailing)
	case err != io.EOF:
		return nil, fmt.Errorf("after %d bytes of %s: %w", total, what, err)
	}
	return buf, nil
}

// eofAsTruncated turns the end of the stream inside the data into ErrTruncated
// and leaves every other error, such as a corrupt gzip stream, as it is.
func eofAsTruncated(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return ErrTruncated
	}
	return err
}
