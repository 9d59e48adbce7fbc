// Command mkfixture writes testdata/mnist: the first few hundred images of
// the real MNIST training and test files, as gzipped IDX files of the same
// names, with their SHA-256 sums in SHA256SUMS (sha256sum -c reads it).
// Tests that need only a few real digits read this fixture, so that
// `go test ./...` passes on a fresh clone without `make data`.
//
//	go run ./scripts/mkfixture              # from data/mnist into testdata/mnist
//	go run ./scripts/mkfixture -src DIR -out DIR -train 500 -test 500
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mnistserve/app/mnist"
)

func main() {
	src := flag.String("src", "data/mnist", "folder of the four real MNIST files (`make data` fetches them)")
	out := flag.String("out", "testdata/mnist", "folder to write the fixture to")
	nTrain := flag.Int("train", 500, "training images to keep, from the first")
	nTest := flag.Int("test", 500, "test images to keep, from the first")
	flag.Parse()
	if err := run(*src, *out, *nTrain, *nTest); err != nil {
		fmt.Fprintln(os.Stderr, "mkfixture:", err)
		os.Exit(1)
	}
}

func run(src, out string, nTrain, nTest int) error {
	train, test, err := mnist.Load(src)
	if err != nil {
		return err
	}
	if nTrain < 1 || nTrain > train.Len() || nTest < 1 || nTest > test.Len() {
		return fmt.Errorf("want 1..%d training and 1..%d test images, got %d and %d", train.Len(), test.Len(), nTrain, nTest)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
	}{
		{"train-images-idx3-ubyte.gz", idxImages(train.Slice(0, nTrain))},
		{"train-labels-idx1-ubyte.gz", idxLabels(train.Slice(0, nTrain))},
		{"t10k-images-idx3-ubyte.gz", idxImages(test.Slice(0, nTest))},
		{"t10k-labels-idx1-ubyte.gz", idxLabels(test.Slice(0, nTest))},
	}
	var sums bytes.Buffer
	for _, f := range files {
		gz, err := gzipped(f.data)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, f.name), gz, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&sums, "%x  %s\n", sha256.Sum256(gz), f.name)
	}
	return os.WriteFile(filepath.Join(out, "SHA256SUMS"), sums.Bytes(), 0o644)
}

// idxImages encodes set's images as an IDX3 file: magic 0x803, count, rows, columns, pixels.
func idxImages(set *mnist.Set) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0x803)
	b = binary.BigEndian.AppendUint32(b, uint32(set.Len()))
	b = binary.BigEndian.AppendUint32(b, mnist.Side)
	b = binary.BigEndian.AppendUint32(b, mnist.Side)
	return append(b, set.Images...)
}

// idxLabels encodes set's labels as an IDX1 file: magic 0x801, count, labels.
func idxLabels(set *mnist.Set) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0x801)
	b = binary.BigEndian.AppendUint32(b, uint32(set.Len()))
	return append(b, set.Labels...)
}

// gzipped compresses data with no name or time in the header, so the same
// input gives the same bytes and the same checksum.
func gzipped(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
