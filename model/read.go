package model

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
)

// MaxMetaBytes bounds a metadata file: a model's metadata is well under a
// kilobyte, so anything larger is not one and is not read.
const MaxMetaBytes = 64 << 10

// ErrVersionTaken is wrapped by errors about saving a model under a version
// the store already holds: a version names one model only.
var ErrVersionTaken = errors.New("model version already taken")

// WeightsBytes is the exact size of this network's encoded weights: a
// weights file of any other size is refused before it is read.
var WeightsBytes = sync.OnceValue(func() int {
	n := len(weightsMagic) + 4 + 4
	for _, p := range NewWeights(0).tensors() {
		n += 4 + len(p.name) + 4 + 4*len(p.shape) + 4*len(p.data)
	}
	return n
})

// ReadRegular reads path whole when it is a regular file (a symlink to one
// counts) of at most max bytes. A device, a FIFO or a socket is refused
// without blocking: the file is opened non-blocking and checked before any
// read, so /dev/zero or a FIFO nobody writes cannot exhaust memory or hang
// the caller.
func ReadRegular(path string, max int) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s): %w", path, st.Mode().Type(), ErrCorrupt)
	}
	if st.Size() > int64(max) {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d a model file may have: %w", path, st.Size(), max, ErrCorrupt)
	}
	data, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > max {
		return nil, fmt.Errorf("%s grew past %d bytes while read: %w", path, max, ErrCorrupt)
	}
	return data, nil
}
