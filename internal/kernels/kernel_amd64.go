package kernels

import "golang.org/x/sys/cpu"

// useAVX512 selects the assembly kernels; tests turn it off to check the
// portable ones against them.
var useAVX512 = hasAVX512

// hasAVX512 is whether the CPU (and OS) can run the AVX-512 kernels.
var hasAVX512 = cpu.X86.HasAVX512F

// kernel12x32AVX512 is microKernelGo in AVX-512 assembly.
//
//go:noescape
func kernel12x32AVX512(kb int, ap, bp, c *float32, ldc int, relu bool)

// max4AVX512 is max4Go in AVX-512 assembly, for n a multiple of 16.
//
//go:noescape
func max4AVX512(dst, a, b, c, d *float32, n int)

func microKernel(kb int, ap, bp, c []float32, ldc int, relu bool) {
	if useAVX512 {
		_ = c[11*ldc+nr-1] // the tile lies inside c
		_ = ap[kb*mr-1]
		_ = bp[kb*nr-1]
		kernel12x32AVX512(kb, &ap[0], &bp[0], &c[0], ldc, relu)
		return
	}
	microKernelGo(kb, ap, bp, c, ldc, relu)
}

func max4(dst, a, b, c, d []float32) {
	n := len(dst)
	if useAVX512 && n%16 == 0 && n > 0 {
		_, _, _, _ = a[n-1], b[n-1], c[n-1], d[n-1]
		max4AVX512(&dst[0], &a[0], &b[0], &c[0], &d[0], n)
		return
	}
	max4Go(dst, a, b, c, d)
}
