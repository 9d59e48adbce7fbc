package mnist_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/mnistserve/app/mnist"
)

// idx builds an IDX stream: the magic, the header numbers, then body.
func idx(tb testing.TB, magic uint32, dims []uint32, body []byte) []byte {
	tb.Helper()
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, magic)
	_ = binary.Write(&b, binary.BigEndian, dims)
	b.Write(body)
	return b.Bytes()
}

// pixels returns n images whose bytes follow a pattern, so that a parser
// mixing up offsets gives different bytes.
func pixels(n int) []byte {
	p := make([]byte, n*mnist.Pixels)
	for i := range p {
		p[i] = byte(i*7 + i/mnist.Pixels)
	}
	return p
}

// digits returns n valid labels 0..9.
func digits(n int) []byte {
	l := make([]byte, n)
	for i := range l {
		l[i] = byte(i % 10)
	}
	return l
}

// imagesFile builds a well-formed IDX3 stream of n images.
func imagesFile(tb testing.TB, n int) []byte {
	tb.Helper()
	return idx(tb, 0x803, []uint32{uint32(n), 28, 28}, pixels(n))
}

// labelsFile builds a well-formed IDX1 stream of n labels.
func labelsFile(tb testing.TB, n int) []byte {
	tb.Helper()
	return idx(tb, 0x801, []uint32{uint32(n)}, digits(n))
}

// gz returns b gzipped.
func gz(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	if _, err := w.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

// writeFile writes b to name in dir and returns its path.
func writeFile(tb testing.TB, dir, name string, b []byte) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}
