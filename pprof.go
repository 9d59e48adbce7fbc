//go:build pprof

package main

// Built only with -tags pprof (a profiling build, never a release): serves
// net/http/pprof on $PPROF_ADDR (e.g. 127.0.0.1:6060) beside whatever the
// command does, so a CPU profile of `app serve` under load can be taken with
// `go tool pprof http://$PPROF_ADDR/debug/pprof/profile?seconds=10`.
// BENCHMARKS.md's cost-per-request section was profiled this way.

import (
	"fmt"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux
	"os"
)

func init() {
	addr := os.Getenv("PPROF_ADDR")
	if addr == "" {
		return
	}
	go func() {
		// The profiling listener lives as long as the process: no owner stops it.
		if err := http.ListenAndServe(addr, nil); err != nil {
			fmt.Fprintln(os.Stderr, "pprof:", err)
		}
	}()
}
