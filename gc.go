package main

import (
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// The garbage collector's pace for app serve. A server's live heap is
// small (about 5 MB under load: the model, the pools, the connections'
// buffers) and every request allocates about 13 KB, so at Go's default
// GOGC=100 it collects about 20 times a second at 7,000 req/s. GOGC=400
// makes that 4 times fewer (about 8% of the server's CPU down to 2%,
// BENCHMARKS.md) for a heap of about 25 MB more. Where the process runs
// under a memory limit (a container's cgroup), a soft limit of 80% of it
// (GOMEMLIMIT) makes the collector work harder before the kernel would
// kill the process. GOGC and GOMEMLIMIT in the environment win over both.

// serveGCPercent is app serve's GOGC unless the environment sets one.
const serveGCPercent = 400

// cgroupMemoryFiles hold a cgroup's memory limit: v2's, then v1's.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// gcPlan is what tuneGC sets: a GOGC of percent (0: leave it) and a soft
// memory limit of limit bytes (0: leave it), each with its reason.
type gcPlan struct {
	percent int
	limit   int64
	why     []any
}

// planGC decides app serve's collector settings from the environment
// (getenv) and the cgroup's memory limit (readFile reads its files).
func planGC(getenv func(string) string, readFile func(string) ([]byte, error)) gcPlan {
	var p gcPlan
	if v := getenv("GOGC"); v != "" {
		p.why = append(p.why, "gogc", v+" (from GOGC)")
	} else {
		p.percent = serveGCPercent
		p.why = append(p.why, "gogc", serveGCPercent)
	}
	if v := getenv("GOMEMLIMIT"); v != "" {
		p.why = append(p.why, "memory_limit", v+" (from GOMEMLIMIT)")
		return p
	}
	for _, f := range cgroupMemoryFiles {
		b, err := readFile(f)
		if err != nil {
			continue
		}
		if n, ok := cgroupLimit(b); ok {
			p.limit = n / 10 * 8
			p.why = append(p.why, "memory_limit", strconv.FormatInt(p.limit>>20, 10)+" MiB (80% of the cgroup's "+strconv.FormatInt(n>>20, 10)+" MiB)")
		}
		break
	}
	return p
}

// cgroupLimit parses a cgroup memory limit file: a byte count, or "max"
// (v2) or a count past 2^62 (v1's way of saying none) for no limit.
func cgroupLimit(b []byte) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 || n >= 1<<62 {
		return 0, false
	}
	return n, true
}

// tuneGC applies planGC's settings to this process and logs them.
func tuneGC(logger *slog.Logger) {
	p := planGC(os.Getenv, os.ReadFile)
	if p.percent > 0 {
		debug.SetGCPercent(p.percent)
	}
	if p.limit > 0 {
		debug.SetMemoryLimit(p.limit)
	}
	logger.Info("garbage collector", p.why...)
}
