package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// logBuffer gathers app serve's log lines and writes them to the log in
// batches: when it holds logBufferSize bytes, logFlushEvery after the
// oldest line it holds, at once for a warning or an error (its handler),
// and at Close. Under load the server logs a line a request, and a write
// of its own for each cost the server about 4% of its CPU (BENCHMARKS.md);
// batched, a few writes a second carry them. A line waits at most
// logFlushEvery; a crash that kills the process outright (not a handled
// panic, not a signal) loses what waits.
type logBuffer struct {
	mu      sync.Mutex
	w       io.Writer
	buf     []byte
	every   time.Duration
	pending bool // a flush is scheduled
	closed  bool
}

const (
	logBufferSize = 32 << 10
	logFlushEvery = 100 * time.Millisecond
)

func newLogBuffer(w io.Writer, every time.Duration) *logBuffer {
	return &logBuffer{w: w, every: every, buf: make([]byte, 0, logBufferSize)}
}

// Write takes one or more whole log lines (slog's handlers write a record
// at a time); after Close it writes through.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.w.Write(p)
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) >= logBufferSize {
		return len(p), b.flushLocked()
	}
	if !b.pending {
		b.pending = true
		time.AfterFunc(b.every, b.timedFlush)
	}
	return len(p), nil
}

// timedFlush is the scheduled flush.
func (b *logBuffer) timedFlush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = false
	_ = b.flushLocked() // nowhere to report a failed log write
}

// Flush writes what the buffer holds.
func (b *logBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *logBuffer) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// Close writes what is held; later lines are written at once.
func (b *logBuffer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return b.flushLocked()
}

// Handler wraps h, whose output is b, so that a record of level Warn or
// above is written at once, with every line held before it.
func (b *logBuffer) Handler(h slog.Handler) slog.Handler { return flushingHandler{h, b} }

type flushingHandler struct {
	slog.Handler
	b *logBuffer
}

func (h flushingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := h.b.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h flushingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return flushingHandler{h.Handler.WithAttrs(as), h.b}
}

func (h flushingHandler) WithGroup(name string) slog.Handler {
	return flushingHandler{h.Handler.WithGroup(name), h.b}
}
