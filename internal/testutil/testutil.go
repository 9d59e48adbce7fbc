// Package testutil holds helpers shared by the tests of several packages.
package testutil

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// mnistFiles are the four files a test needs, each raw or gzipped.
var mnistFiles = []string{
	"train-images-idx3-ubyte",
	"train-labels-idx1-ubyte",
	"t10k-images-idx3-ubyte",
	"t10k-labels-idx1-ubyte",
}

// MNISTDir returns the folder holding the full MNIST files, for the tests
// that need all 70,000 images: $MNIST_DIR when set, else data/mnist under
// the module root. It skips the test, saying to run `make data`, when any of
// the four files is missing, so that `go test ./...` passes on a fresh
// clone; `make test` fetches the data first, so nothing skips there. Tests
// that need only a few real digits use MNISTFixture instead.
func MNISTDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("MNIST_DIR")
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			tb.Fatalf("testutil: find the MNIST data: %v", err)
		}
		dir = filepath.Join(root, "data", "mnist")
	}
	if missing := missingFiles(dir); len(missing) > 0 {
		tb.Skipf("skipped: this test needs the full MNIST set, and %s lacks %v: run `make data` to fetch it (or set MNIST_DIR)", dir, missing)
	}
	return dir
}

// FixtureImages is how many images each set of the fixture holds: the
// first 500 training and the first 500 test images of MNIST.
const FixtureImages = 500

// MNISTFixture returns testdata/mnist under the module root: the four MNIST
// files cut to their first FixtureImages images each, made from the real
// files by scripts/mkfixture and committed with their SHA-256 sums, for the
// tests that need a few real digits. It fails the test when a file is
// missing.
func MNISTFixture(tb testing.TB) string {
	tb.Helper()
	root, err := moduleRoot()
	if err != nil {
		tb.Fatalf("testutil: find the MNIST fixture: %v", err)
	}
	dir := filepath.Join(root, "testdata", "mnist")
	if missing := missingFiles(dir); len(missing) > 0 {
		tb.Fatalf("testutil: the MNIST fixture in %s lacks %v (go run ./scripts/mkfixture remakes it)", dir, missing)
	}
	return dir
}

// moduleRoot returns the nearest parent of the working directory holding go.mod;
// go test runs in the package folder, which may be several levels deep.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod in the working directory or its parents")
		}
		dir = parent
	}
}

// missingFiles lists the MNIST files found in dir neither raw nor gzipped.
func missingFiles(dir string) []string {
	var missing []string
	for _, name := range mnistFiles {
		p := filepath.Join(dir, name)
		if !isFile(p) && !isFile(p+".gz") {
			missing = append(missing, name)
		}
	}
	return missing
}

func isFile(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular()
}

// Get returns the status and body of GET url: status 0 and "" when nothing
// answers, for tests that poll a server coming up.
func Get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
