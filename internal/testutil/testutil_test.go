package testutil

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mnistserve/app/mnist"
)

// skipTB records a Skipf and stops its goroutine, as testing.T does, so
// that MNISTDir's skip can be observed without skipping this test.
type skipTB struct {
	testing.TB
	msg string
}

func (f *skipTB) Helper() {}

func (f *skipTB) Skipf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// callMNISTDir runs MNISTDir on a skipTB and returns its result and the
// skip message, empty when it did not skip.
func callMNISTDir(tb testing.TB) (dir, fatal string) {
	tb.Helper()
	fake := &skipTB{TB: tb}
	done := make(chan struct{})
	go func() {
		defer close(done)
		dir = MNISTDir(fake)
	}()
	<-done
	return dir, fake.msg
}

func TestMNISTDir(t *testing.T) {
	t.Run("MNIST_DIR with the four files, raw or gzipped, is used", func(t *testing.T) {
		dir := t.TempDir()
		for i, name := range mnistFiles {
			if i%2 == 0 {
				name += ".gz"
			}
			if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Setenv("MNIST_DIR", dir)
		if got, fatal := callMNISTDir(t); got != dir || fatal != "" {
			t.Errorf("MNISTDir = %q (fatal %q), want %q", got, fatal, dir)
		}
	})

	t.Run("a folder missing a file skips the test saying to run make data", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, mnistFiles[0]), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Setenv("MNIST_DIR", dir)
		_, fatal := callMNISTDir(t)
		for _, want := range []string{"make data", dir, mnistFiles[3]} {
			if !strings.Contains(fatal, want) {
				t.Errorf("skip message %q does not mention %q", fatal, want)
			}
		}
		if strings.Contains(fatal, mnistFiles[0]+" ") {
			t.Errorf("skip message %q lists %s, which is present", fatal, mnistFiles[0])
		}
	})

	t.Run("without MNIST_DIR the folder is data/mnist under the module root", func(t *testing.T) {
		t.Setenv("MNIST_DIR", "")
		got, fatal := callMNISTDir(t)
		// Either outcome names data/mnist beside go.mod; which one depends on
		// whether the data was fetched.
		root := filepath.Join("..", "..")
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
			t.Fatalf("test assumes the package sits two levels below go.mod: %v", err)
		}
		want, err := filepath.Abs(filepath.Join(root, "data", "mnist"))
		if err != nil {
			t.Fatal(err)
		}
		if fatal != "" {
			if !strings.Contains(fatal, want) || !strings.Contains(fatal, "make data") {
				t.Errorf("skip message %q does not name %s and make data", fatal, want)
			}
			return
		}
		if got != want {
			t.Errorf("MNISTDir = %q, want %q", got, want)
		}
	})
}

// TestMNISTFixtureIsTheFirstImagesOfTheRealFiles checks the committed
// fixture against its SHA256SUMS and, when the full set is fetched, that it
// holds exactly the first FixtureImages images and labels of each real set.
func TestMNISTFixtureIsTheFirstImagesOfTheRealFiles(t *testing.T) {
	dir := MNISTFixture(t)
	sums, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(sums)), "\n")
	if len(lines) != len(mnistFiles) {
		t.Fatalf("SHA256SUMS has %d lines, want %d", len(lines), len(mnistFiles))
	}
	for _, line := range lines {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q is not `SUM  NAME`", line)
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%x", sha256.Sum256(data)); got != sum {
			t.Errorf("%s: sha256 %s, SHA256SUMS says %s", name, got, sum)
		}
	}

	fixTrain, fixTest, err := mnist.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fixTrain.Len() != FixtureImages || fixTest.Len() != FixtureImages {
		t.Fatalf("fixture holds %d and %d images, want %d each", fixTrain.Len(), fixTest.Len(), FixtureImages)
	}
	if fixTrain.Labels[0] != 5 || fixTest.Labels[0] != 7 {
		t.Errorf("first labels %d and %d, want MNIST's 5 and 7", fixTrain.Labels[0], fixTest.Labels[0])
	}
	full := MNISTDir(t)
	train, test, err := mnist.Load(full)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		fix, real *mnist.Set
	}{{"training", fixTrain, train}, {"test", fixTest, test}} {
		first := c.real.Slice(0, FixtureImages)
		if !bytes.Equal(c.fix.Images, first.Images) || !bytes.Equal(c.fix.Labels, first.Labels) {
			t.Errorf("the fixture's %s set is not the first %d images of %s", c.name, FixtureImages, full)
		}
	}
}
