package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fatalTB records a Fatalf and stops its goroutine, as testing.T does, so
// that MNISTDir's failure path can be observed without failing this test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// callMNISTDir runs MNISTDir on a fatalTB and returns its result and the
// fatal message, empty when it did not fail.
func callMNISTDir(tb testing.TB) (dir, fatal string) {
	tb.Helper()
	fake := &fatalTB{TB: tb}
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

	t.Run("a folder missing a file fails the test saying to run make data", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, mnistFiles[0]), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Setenv("MNIST_DIR", dir)
		_, fatal := callMNISTDir(t)
		for _, want := range []string{"make data", dir, mnistFiles[3]} {
			if !strings.Contains(fatal, want) {
				t.Errorf("fatal message %q does not mention %q", fatal, want)
			}
		}
		if strings.Contains(fatal, mnistFiles[0]+" ") {
			t.Errorf("fatal message %q lists %s, which is present", fatal, mnistFiles[0])
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
				t.Errorf("fatal message %q does not name %s and make data", fatal, want)
			}
			return
		}
		if got != want {
			t.Errorf("MNISTDir = %q, want %q", got, want)
		}
	})
}
