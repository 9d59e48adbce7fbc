package model

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestTrainingLockIsHeldByOneProcessAtATime(t *testing.T) {
	dir := t.TempDir()
	l, err := LockTraining(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LockTraining(dir); !errors.Is(err, ErrTrainingElsewhere) {
		t.Fatalf("second lock: %v, want ErrTrainingElsewhere", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := LockTraining(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.Release()
}

func TestAStaleTrainingLockIsTakenOver(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, lockName)
	if err := os.WriteFile(path, []byte("pid 1 on gone\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * staleLock)
	os.Chtimes(path, old, old)
	l, err := LockTraining(dir)
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
	l, err := LockTraining(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if _, _, err := LoadLatest(dir, nil); !errors.Is(err, ErrNoModel) {
		t.Fatalf("a folder with only the lock: %v, want ErrNoModel", err)
	}
	if v := NewestVersion(dir); v != "" {
		t.Fatalf("NewestVersion = %q with no model", v)
	}
}
