package train

import (
	"os"
	"strconv"
	"strings"
)

// residentBytes returns the process's resident memory from /proc, or 0
// where there is no /proc: the epoch lines show it so that growth across
// epochs (a leak) is plain to see.
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}
