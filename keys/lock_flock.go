//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package keys

import (
	"fmt"
	"os"
	"syscall"
)

// lock holds an exclusive lock on path's lock file (path + ".lock") until
// the returned function is called, so that `app keys` commands running at
// once change the keys file one after another: each reads, changes and
// replaces the whole file, and two at once lost one's change.
func lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock keys %s: %w", path, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock keys %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing releases the lock
}
