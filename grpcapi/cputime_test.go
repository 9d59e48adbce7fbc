//go:build unix

package grpcapi

import "syscall"

// processCPU returns the CPU time (user and system) the process has used,
// in nanoseconds: on a shared machine a benchmark's CPU time per call is
// closer to its cost than its wall time.
func processCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
