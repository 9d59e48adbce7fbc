package registry

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// lockName is the lock file in a model folder. It is not a model: Scan
// reads only *.json.
const lockName = ".training.lock"

// staleLock is how old a lock's last refresh may be before it is taken as
// left behind by a process that died; holders refresh it far more often.
const staleLock = 3 * time.Minute

// FileLock keeps other processes on one host from training at the same
// time: replicas that boot together on an empty folder (or SQLite file)
// train one model, not one each. It is a file created exclusively and
// refreshed while held, so a crashed holder's lock goes stale instead of
// blocking forever.
type FileLock struct {
	path string
	stop chan struct{}
	wg   sync.WaitGroup
}

// LockFile takes the lock file path, or returns an error wrapping
// ErrTrainingElsewhere while a live process holds it.
func LockFile(path string) (*FileLock, error) {
	for attempt := 0; attempt < 2; attempt++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			host, _ := os.Hostname()
			fmt.Fprintf(f, "pid %d on %s since %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
			f.Close()
			l := &FileLock{path: path, stop: make(chan struct{})}
			l.wg.Add(1)
			go l.refresh()
			return l, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("take training lock: %w", err)
		}
		st, serr := os.Stat(path)
		if serr == nil && time.Since(st.ModTime()) < staleLock {
			holder, _ := os.ReadFile(path)
			return nil, fmt.Errorf("%w (%s: %s)", ErrTrainingElsewhere, path, strings.TrimSpace(string(holder)))
		}
		os.Remove(path) // stale: its holder stopped refreshing it
	}
	return nil, fmt.Errorf("take training lock %s: %w", path, ErrTrainingElsewhere)
}

// refresh touches the lock file until Release, so that it never looks stale
// while held.
func (l *FileLock) refresh() {
	defer l.wg.Done()
	t := time.NewTicker(staleLock / 6)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			now := time.Now()
			os.Chtimes(l.path, now, now)
		}
	}
}

// Release gives the lock up.
func (l *FileLock) Release() error {
	close(l.stop)
	l.wg.Wait()
	return os.Remove(l.path)
}
