package registry

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestTrainingLockIsHeldByOneProcessAtATime(t *testing.T) {
	path := filepath.Join(t.TempDir(), lockName)
	l, err := LockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LockFile(path); !errors.Is(err, ErrTrainingElsewhere) {
		t.Fatalf("second lock: %v, want ErrTrainingElsewhere", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := LockFile(path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.Release()
}

func TestAStaleTrainingLockIsTakenOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), lockName)
	if err := os.WriteFile(path, []byte("pid 1 on gone\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * staleLock)
	os.Chtimes(path, old, old)
	l, err := LockFile(path)
	if err != nil {
		t.Fatalf("a lock untouched for %v was not taken over: %v", 2*staleLock, err)
	}
	defer l.Release()
	if b, _ := os.ReadFile(path); string(b) == "pid 1 on gone\n" {
		t.Errorf("the lock file still names the dead holder")
	}
}

func TestTheLockFileIsNotAModel(t *testing.T) {
	dir := t.TempDir()
	f := NewFolder(dir)
	l, err := f.Elect(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if entries, err := f.Scan(ctx(t)); err != nil || len(entries) != 0 {
		t.Fatalf("a folder with only the lock lists %v, %v; want nothing", entries, err)
	}
}
