//go:build unix

package registry

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mnistserve/app/model"
)

// TestTheFolderSkipsWhatIsNotAModelFile puts in a model folder what once
// crashed or hung the server: a .json that is a symlink to /dev/zero
// (read whole: out of memory), one that is a FIFO nobody writes (read:
// hangs), and a huge .json. Each is refused at once, without being read,
// and the valid model is served.
func TestTheFolderSkipsWhatIsNotAModelFile(t *testing.T) {
	cases := []struct {
		name string
		make func(t *testing.T, path string)
	}{
		{"a symlink to /dev/zero", func(t *testing.T, path string) {
			if err := os.Symlink("/dev/zero", path); err != nil {
				t.Fatal(err)
			}
		}},
		{"a FIFO", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"a 300 MB metadata file", func(t *testing.T, path string) {
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(300 << 20); err != nil { // sparse: no disk used
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			r := New(NewFolder(dir), nil)
			good := saveAt(t, r, 1, time.Now().Add(-time.Hour))
			c.make(t, filepath.Join(dir, "29990101T000000.000Z.json"))
			done := make(chan error, 1)
			go func() {
				_, _, err := r.Current(ctx(t))
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Current hung on the bad file")
			}
			if v := currentVersion(t, r); v != good {
				t.Errorf("serving %s, want the valid %s", v, good)
			}
			if _, err := r.Promote(ctx(t), "29990101T000000.000Z"); !errors.Is(err, model.ErrCorrupt) {
				t.Errorf("promoting the bad file: %v, want ErrCorrupt", err)
			}
		})
	}
}
