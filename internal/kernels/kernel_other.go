//go:build !amd64

package kernels

var useAVX512 = false

func microKernel(kb int, ap, bp, c []float32, ldc int) { microKernelGo(kb, ap, bp, c, ldc) }
