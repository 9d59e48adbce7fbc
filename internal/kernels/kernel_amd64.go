package kernels

import "golang.org/x/sys/cpu"

// The instruction sets the kernels have assembly for, best last.
const (
	levelGo = iota
	levelAVX2
	levelAVX512
)

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

// level selects the kernels; tests lower it to check each path against
// the others.
var level = best

// kernel12x32AVX512 is microKernelGo in AVX-512 assembly.
//
//go:noescape
func kernel12x32AVX512(kb int, ap, bp, c *float32, ldc int, relu bool)

// kernel6x16AVX2 is a quarter of microKernelGo in AVX2 assembly.
//
//go:noescape
func kernel6x16AVX2(kb int, ap, bp, c *float32, ldc int, relu bool)

// max4AVX512 is max4Go in AVX-512 assembly, for n a multiple of 16.
//
//go:noescape
func max4AVX512(dst, a, b, c, d *float32, n int)

// max4AVX2 is max4Go in AVX2 assembly, for n a multiple of 8.
//
//go:noescape
func max4AVX2(dst, a, b, c, d *float32, n int)

func microKernel(kb int, ap, bp, c []float32, ldc int, relu bool) {
	if level == levelGo {
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
