package mnist_test

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/mnist"
)

func TestLoadRealMNIST(t *testing.T) {
	dir := testutil.MNISTDir(t)
	train, test, err := mnist.Load(dir)
	if err != nil {
		t.Fatalf("Load(%s): %v", dir, err)
	}

	t.Run("the sets hold 60,000 and 10,000 images", func(t *testing.T) {
		for _, c := range []struct {
			name string
			set  *mnist.Set
			want int
		}{{"train", train, 60000}, {"test", test, 10000}} {
			if c.set.Len() != c.want || len(c.set.Images) != c.want*mnist.Pixels {
				t.Errorf("%s: Len() = %d with %d pixel bytes, want %d images", c.name, c.set.Len(), len(c.set.Images), c.want)
			}
		}
	})

	t.Run("the first labels are the known 5 and 7", func(t *testing.T) {
		if train.Labels[0] != 5 {
			t.Errorf("first train label = %d, want 5", train.Labels[0])
		}
		if test.Labels[0] != 7 {
			t.Errorf("first test label = %d, want 7", test.Labels[0])
		}
	})

	t.Run("every digit appears in both sets", func(t *testing.T) {
		for _, s := range []*mnist.Set{train, test} {
			var seen [10]int
			for _, l := range s.Labels {
				seen[l]++
			}
			for d, c := range seen {
				if c < s.Len()/20 {
					t.Errorf("digit %d appears %d times in %d images", d, c, s.Len())
				}
			}
		}
	})

	t.Run("the first test image matches an independent decode", func(t *testing.T) {
		want := firstImageRaw(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"))
		got := test.Image(0)
		if string(got) != string(want) {
			t.Fatalf("test image 0 differs from the bytes after the 16-byte header")
		}
		var sum, maxv int
		for _, v := range got {
			sum += int(v)
			maxv = max(maxv, int(v))
		}
		if maxv != 255 || sum == 0 {
			t.Errorf("test image 0: max %d, sum %d; want max 255 and a nonzero sum", maxv, sum)
		}
	})

	t.Run("the first test digit has ink in the middle rows and none at the top", func(t *testing.T) {
		img := test.Image(0)
		var top, middle int
		for r := range mnist.Side {
			for _, v := range img[r*mnist.Side : (r+1)*mnist.Side] {
				switch {
				case r < 4:
					top += int(v)
				case r >= 8 && r < 20:
					middle += int(v)
				}
			}
		}
		if top != 0 || middle == 0 {
			t.Errorf("test image 0: top rows sum %d (want 0), middle rows sum %d (want > 0)", top, middle)
		}
	})

	t.Run("LoadTest gives the same test set", func(t *testing.T) {
		again, err := mnist.LoadTest(dir)
		if err != nil {
			t.Fatal(err)
		}
		if string(again.Images) != string(test.Images) || string(again.Labels) != string(test.Labels) {
			t.Error("LoadTest differs from the test set of Load")
		}
	})
}

// firstImageRaw decodes the first image of a gzipped IDX3 file without the
// package's parser: skip the 16-byte header, take 784 bytes.
func firstImageRaw(tb testing.TB, path string) []byte {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Skipf("no gzipped test images to cross-check: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	buf := make([]byte, 16+mnist.Pixels)
	if _, err := io.ReadFull(zr, buf); err != nil {
		tb.Fatal(err)
	}
	return buf[16:]
}
