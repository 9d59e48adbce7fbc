//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// best is the best level this CPU (and OS) runs.
var best = func() int {
	switch {
	case cpu.X86.HasAVX512F:
		return levelAVX512
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return levelAVX2
	}
	return levelGo
}()

// level selects the kernels in use.
var level = best

// The assembly checks nothing: each stub below states what its caller
// (microKernel, max4) must make true before the call. The loops count down
// and test for zero at the bottom, so a count of 0 would run 2^64 times.

// kernel12x32AVX512 is microKernelGo in AVX-512 assembly.
// Preconditions: kb >= 1; ap holds kb*12 floats and bp kb*32; c is the
// top-left of a 12 x 32 tile with leading dimension ldc >= 32 (in floats),
// every row of it inside one slice.
//
//go:noescape
func kernel12x32AVX512(kb int, ap, bp, c *float32, ldc int, relu bool)

// kernel6x16AVX2 is a quarter of microKernelGo in AVX2 assembly: rows 0..5
// of a 12-row packed A panel against columns 0..15 of a 32-column packed B
// panel. Preconditions: kb >= 1; ap points into a panel of kb*12 floats and
// bp into one of kb*32 (the caller offsets them for the other quarters);
// c is the top-left of a 6 x 16 tile with leading dimension ldc >= 16.
//
//go:noescape
func kernel6x16AVX2(kb int, ap, bp, c *float32, ldc int, relu bool)

// max4AVX512 is max4Go in AVX-512 assembly.
// Preconditions: n >= 16 and a multiple of 16; dst, a, b, c and d each
// hold n floats.
//
//go:noescape
func max4AVX512(dst, a, b, c, d *float32, n int)

// max4AVX2 is max4Go in AVX2 assembly.
// Preconditions: n >= 8 and a multiple of 8; dst, a, b, c and d each hold
// n floats.
//
//go:noescape
func max4AVX2(dst, a, b, c, d *float32, n int)

// microKernel runs the micro-kernel of the level in use; kb >= 1 (sgemm
// returns before packing when k is 0).
func microKernel(kb int, ap, bp, c []float32, ldc int, relu bool) {
	if level == levelGo || kb < 1 {
		microKernelGo(kb, ap, bp, c, ldc, relu)
		return
	}
	_ = c[11*ldc+nr-1] // the tile lies inside c
	_ = ap[kb*mr-1]
	_ = bp[kb*nr-1]
	if level == levelAVX512 {
		kernel12x32AVX512(kb, &ap[0], &bp[0], &c[0], ldc, relu)
		return
	}
	kernel6x16AVX2(kb, &ap[0], &bp[0], &c[0], ldc, relu)
	kernel6x16AVX2(kb, &ap[0], &bp[16], &c[16], ldc, relu)
	kernel6x16AVX2(kb, &ap[6], &bp[0], &c[6*ldc], ldc, relu)
	kernel6x16AVX2(kb, &ap[6], &bp[16], &c[6*ldc+16], ldc, relu)
}

func max4(dst, a, b, c, d []float32) {
	n := len(dst)
	switch {
	case n == 0 || level == levelGo || n%8 != 0:
		max4Go(dst, a, b, c, d)
		return
	case level == levelAVX512 && n%16 == 0:
		_, _, _, _ = a[n-1], b[n-1], c[n-1], d[n-1]
		max4AVX512(&dst[0], &a[0], &b[0], &c[0], &d[0], n)
	default:
		_, _, _, _ = a[n-1], b[n-1], c[n-1], d[n-1]
		max4AVX2(&dst[0], &a[0], &b[0], &c[0], &d[0], n)
	}
}
