package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// writes records every Write call the buffer makes.
type writes struct {
	mu    sync.Mutex
	calls []string
}

func (w *writes) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, string(p))
	return len(p), nil
}

func (w *writes) all() (int, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.calls), strings.Join(w.calls, "")
}

func TestLogBufferHoldsInfoLinesUntilItsTick(t *testing.T) {
	var w writes
	b := newLogBuffer(&w, 50*time.Millisecond)
	log := slog.New(b.Handler(slog.NewTextHandler(b, nil)))
	for i := range 10 {
		log.Info("request", "n", i)
	}
	if n, _ := w.all(); n != 0 {
		t.Fatalf("%d writes before the tick, want the lines held", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, out := w.all()
		if n > 0 {
			if n != 1 || strings.Count(out, "msg=request") != 10 {
				t.Fatalf("after the tick: %d writes holding %q, want one write of the 10 lines", n, out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("held lines never written")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLogBufferWritesWarningsAtOnceInOrder(t *testing.T) {
	var w writes
	b := newLogBuffer(&w, time.Hour)
	log := slog.New(b.Handler(slog.NewTextHandler(b, nil))).With("replica", "a")
	log.Info("first")
	log.Warn("second")
	n, out := w.all()
	first, second := strings.Index(out, "msg=first"), strings.Index(out, "msg=second")
	if n != 1 || first < 0 || second < first {
		t.Fatalf("after a warning: %d writes %q, want the info line then the warning in one write", n, out)
	}
	if !strings.Contains(out, "replica=a") {
		t.Errorf("attributes of With lost: %q", out)
	}
	log.Error("third")
	if n, out := w.all(); n != 2 || !strings.HasSuffix(out, "msg=third replica=a\n") {
		t.Errorf("an error is not written at once: %d writes %q", n, out)
	}
}

func TestLogBufferWritesWhenFullAndAtClose(t *testing.T) {
	var w writes
	b := newLogBuffer(&w, time.Hour)
	line := strings.Repeat("x", 99) + "\n"
	for range logBufferSize/len(line) + 1 {
		fmt.Fprint(b, line)
	}
	n, out := w.all()
	if n != 1 || len(out) < logBufferSize || !strings.HasSuffix(out, "\n") {
		t.Fatalf("full buffer: %d writes of %d bytes, want one of at least %d whole lines", n, len(out), logBufferSize)
	}
	fmt.Fprint(b, "tail\n")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, out := w.all(); !strings.HasSuffix(out, "x\ntail\n") {
		t.Fatalf("Close did not write the held line: ends %q", out[len(out)-10:])
	}
	fmt.Fprint(b, "late\n")
	if _, out := w.all(); !strings.HasSuffix(out, "tail\nlate\n") {
		t.Fatalf("a line after Close is not written through: ends %q", out[len(out)-10:])
	}
}

func TestLogBufferKeepsConcurrentLinesWhole(t *testing.T) {
	var out bytes.Buffer
	b := newLogBuffer(&out, time.Millisecond)
	log := slog.New(b.Handler(slog.NewTextHandler(b, nil)))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				log.Info("request", "g", g, "i", i, "pad", strings.Repeat("p", 40))
			}
		})
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8*500 {
		t.Fatalf("%d lines, want %d", len(lines), 8*500)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "time=") || !strings.HasSuffix(l, strings.Repeat("p", 40)) {
			t.Fatalf("a line cut or mixed: %q", l)
		}
	}
}
