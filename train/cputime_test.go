//go:build unix

package train

import "syscall"

// processCPU returns the CPU time (user and system) the process has used,
// in nanoseconds. On a machine shared with other work, a benchmark's CPU
// time per operation is closer to its cost than the wall time, which
// counts the time other processes held the core.
func processCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
