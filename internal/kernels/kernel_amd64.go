package kernels

import "golang.org/x/sys/cpu"

// useAVX512 selects the assembly micro-kernel; tests turn it off to check
// the portable one against it.
var useAVX512 = cpu.X86.HasAVX512F

// kernel12x32AVX512 is microKernelGo in AVX-512 assembly.
//
//go:noescape
func kernel12x32AVX512(kb int, ap, bp, c *float32, ldc int)

func microKernel(kb int, ap, bp, c []float32, ldc int) {
	if useAVX512 {
		_ = c[11*ldc+nr-1] // the tile lies inside c
		_ = ap[kb*mr-1]
		_ = bp[kb*nr-1]
		kernel12x32AVX512(kb, &ap[0], &bp[0], &c[0], ldc)
		return
	}
	microKernelGo(kb, ap, bp, c, ldc)
}
