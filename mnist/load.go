package mnist

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// The four MNIST files, without the optional .gz suffix.
const (
	trainImagesName = "train-images-idx3-ubyte"
	trainLabelsName = "train-labels-idx1-ubyte"
	testImagesName  = "t10k-images-idx3-ubyte"
	testLabelsName  = "t10k-labels-idx1-ubyte"
)

// ReadSet reads an image file and a label file, each raw or gzipped, and
// checks that they hold as many items. Every error names the file at fault.
func ReadSet(imagesPath, labelsPath string) (*Set, error) {
	var images []byte
	var n int
	err := readFile(imagesPath, func(r io.Reader) (err error) {
		images, n, err = ReadImages(r)
		return err
	})
	if err != nil {
		return nil, err
	}
	var labels []byte
	err = readFile(labelsPath, func(r io.Reader) (err error) {
		labels, err = ReadLabels(r)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(labels) != n {
		return nil, fmt.Errorf("%s has %d labels but %s has %d images: %w",
			labelsPath, len(labels), imagesPath, n, ErrCountMismatch)
	}
	return &Set{Images: images, Labels: labels}, nil
}

// readFile opens path, undoes gzip when the content starts with the gzip
// magic bytes (whatever the name says), runs parse and closes the file.
func readFile(path string, parse func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err // *fs.PathError already names the file.
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	var r io.Reader = br
	// A file shorter than two bytes is not gzip; the parser reports it truncated.
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: gzip: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	if err := parse(r); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Load reads the training and test sets from dir, where each of the four
// MNIST files may be raw or gzipped.
// The two sets are read side by side: each is mostly a gunzip, one core's
// work.
func Load(dir string) (train, test *Set, err error) {
	var testErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		test, testErr = loadPair(dir, testImagesName, testLabelsName)
	}()
	train, err = loadPair(dir, trainImagesName, trainLabelsName)
	<-done
	if err != nil {
		return nil, nil, err
	}
	if testErr != nil {
		return nil, nil, testErr
	}
	return train, test, nil
}

// LoadTest reads only the 10,000 test images from dir, for callers that never train.
func LoadTest(dir string) (*Set, error) {
	return loadPair(dir, testImagesName, testLabelsName)
}

func loadPair(dir, imagesName, labelsName string) (*Set, error) {
	imagesPath, err := find(dir, imagesName)
	if err != nil {
		return nil, err
	}
	labelsPath, err := find(dir, labelsName)
	if err != nil {
		return nil, err
	}
	return ReadSet(imagesPath, labelsPath)
}

// find returns the path of name in dir, raw or with .gz; the raw file wins
// because it is what someone who unpacked the archive means to use. The
// error wraps fs.ErrNotExist so callers can tell missing data from bad data.
func find(dir, name string) (string, error) {
	raw := filepath.Join(dir, name)
	for _, p := range []string{raw, raw + ".gz"} {
		_, err := os.Stat(p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("neither %s nor %s.gz exists (run `make data` to fetch MNIST): %w", raw, raw, fs.ErrNotExist)
}
