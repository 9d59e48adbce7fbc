//go:build !unix

package grpcapi

// processCPU is unknown here: the cpu-us/op metric reads 0.
func processCPU() int64 { return 0 }
