package mnist_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mnistserve/app/mnist"
)

func TestReadSet(t *testing.T) {
	corruptCRC := gz(t, imagesFile(t, 2))
	corruptCRC[len(corruptCRC)-8] ^= 0xff // the CRC-32 trailer
	tests := []struct {
		name         string
		images       []byte
		labels       []byte
		wantErr      error    // nil: success
		wantFiles    []string // "images" and/or "labels": the files the error must name
		wantMessages []string
	}{
		{name: "raw files parse", images: imagesFile(t, 4), labels: labelsFile(t, 4)},
		{name: "gzipped files parse", images: gz(t, imagesFile(t, 4)), labels: gz(t, labelsFile(t, 4))},
		{name: "raw images with gzipped labels parse", images: imagesFile(t, 4), labels: gz(t, labelsFile(t, 4))},
		{
			name: "labels given as images are refused naming the images file", images: labelsFile(t, 4), labels: labelsFile(t, 4),
			wantErr: mnist.ErrBadMagic, wantFiles: []string{"images"}, wantMessages: []string{"bad magic number 0x00000801, want 0x00000803"},
		},
		{
			name: "27x28 images are refused naming the images file", images: idx(t, 0x803, []uint32{4, 27, 28}, pixels(4)), labels: labelsFile(t, 4),
			wantErr: mnist.ErrBadDims, wantFiles: []string{"images"}, wantMessages: []string{"27x28"},
		},
		{
			name: "a truncated gzipped body is refused naming the images file", images: gz(t, imagesFile(t, 4)[:100]), labels: labelsFile(t, 4),
			wantErr: mnist.ErrTruncated, wantFiles: []string{"images"},
		},
		{
			name: "trailing bytes in the labels are refused naming the labels file", images: imagesFile(t, 4), labels: append(labelsFile(t, 4), 1),
			wantErr: mnist.ErrTrailing, wantFiles: []string{"labels"},
		},
		{
			name: "a label of 10 is refused naming the labels file", images: imagesFile(t, 1), labels: idx(t, 0x801, []uint32{1}, []byte{10}),
			wantErr: mnist.ErrBadLabel, wantFiles: []string{"labels"},
		},
		{
			name: "5 labels for 4 images is a count mismatch naming both files", images: imagesFile(t, 4), labels: labelsFile(t, 5),
			wantErr: mnist.ErrCountMismatch, wantFiles: []string{"images", "labels"}, wantMessages: []string{"5 labels", "4 images"},
		},
		{
			name: "a gzip stream with a wrong checksum is refused naming the file", images: corruptCRC, labels: labelsFile(t, 2),
			wantErr: gzip.ErrChecksum, wantFiles: []string{"images"},
		},
		{
			name: "gzip magic followed by garbage is refused naming the file", images: imagesFile(t, 1), labels: append([]byte{0x1f, 0x8b}, make([]byte, 18)...),
			wantErr: gzip.ErrHeader, wantFiles: []string{"labels"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			// Names without .gz: gzip must be recognised by content.
			paths := map[string]string{
				"images": writeFile(t, dir, "images", tt.images),
				"labels": writeFile(t, dir, "labels", tt.labels),
			}
			set, err := mnist.ReadSet(paths["images"], paths["labels"])
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("ReadSet: %v", err)
				}
				if !bytes.Equal(set.Images, pixels(4)) || !bytes.Equal(set.Labels, digits(4)) || set.Len() != 4 {
					t.Errorf("got %d images, %d labels; want the 4 written", len(set.Images)/mnist.Pixels, len(set.Labels))
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if set != nil {
				t.Errorf("got a set along with the error")
			}
			msg := err.Error()
			for _, f := range tt.wantFiles {
				if !strings.Contains(msg, paths[f]) {
					t.Errorf("error %q does not name %s", msg, paths[f])
				}
			}
			for _, want := range tt.wantMessages {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
		})
	}
}

func TestReadSetNamesAMissingFile(t *testing.T) {
	dir := t.TempDir()
	labels := writeFile(t, dir, "labels", labelsFile(t, 1))
	missing := filepath.Join(dir, "no-such-images")
	_, err := mnist.ReadSet(missing, labels)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("err = %v, want a not-exist error naming %s", err, missing)
	}
}

func TestLoad(t *testing.T) {
	t.Run("a folder mixing raw and gzipped files loads both sets", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "train-images-idx3-ubyte.gz", gz(t, imagesFile(t, 4)))
		writeFile(t, dir, "train-labels-idx1-ubyte", labelsFile(t, 4))
		writeFile(t, dir, "t10k-images-idx3-ubyte", imagesFile(t, 2))
		writeFile(t, dir, "t10k-labels-idx1-ubyte.gz", gz(t, labelsFile(t, 2)))
		train, test, err := mnist.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if train.Len() != 4 || test.Len() != 2 || !bytes.Equal(test.Images, pixels(2)) {
			t.Errorf("got %d train and %d test images, want 4 and 2", train.Len(), test.Len())
		}
	})

	t.Run("a missing file names the expected path and suggests make data", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "t10k-images-idx3-ubyte.gz", gz(t, imagesFile(t, 2)))
		_, err := mnist.LoadTest(dir)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v, want fs.ErrNotExist", err)
		}
		want := filepath.Join(dir, "t10k-labels-idx1-ubyte")
		if msg := err.Error(); !strings.Contains(msg, want) || !strings.Contains(msg, "make data") {
			t.Errorf("error %q does not name %s and suggest `make data`", msg, want)
		}
	})

	t.Run("a bad file in the folder is an error naming it", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "t10k-images-idx3-ubyte", imagesFile(t, 2))
		bad := writeFile(t, dir, "t10k-labels-idx1-ubyte", labelsFile(t, 3))
		_, err := mnist.LoadTest(dir)
		if !errors.Is(err, mnist.ErrCountMismatch) || !strings.Contains(err.Error(), bad) {
			t.Errorf("err = %v, want ErrCountMismatch naming %s", err, bad)
		}
	})
}
