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

// kernel12x32AVX512 is microKernelGo in AVX-512 assembly: C[0:12][0:32]
// += A·B over kb depths, A(i, p) at a[i*rsa + p*csa], B(p, j) at
// b[p*ldb + j], then C = max(C, 0) when relu; with overwrite, C = A·B,
// C's old values never read, and relu false, or with a bias too (not
// nil: 32 floats), C = A·B + bias[j], then the max when relu.
// Preconditions: kb >= 1; every A(i, p) for i < 12, p < kb and every
// B(p, j) for j < 32 lies inside the caller's slices; c is the top-left of
// a 12 x 32 tile with leading dimension ldc >= 32, inside one slice. The
// strides are in floats and may be anything, the tile's rows overlapping
// included: the kernel only reads A and B.
//
//go:noescape
func kernel12x32AVX512(kb int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, relu, overwrite bool, bias *float32)

// kernel6x16AVX2 is a quarter of microKernelGo in AVX2 assembly: rows 0..5
// of A against columns 0..15 of B, addressed as in kernel12x32AVX512.
// Preconditions: as kernel12x32AVX512's for a 6 x 16 tile (the caller
// offsets a, b and c for the other quarters).
//
//go:noescape
func kernel6x16AVX2(kb int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, relu, overwrite bool, bias *float32)

// dotAVX512 is the sum of a[i]*b[i] for i < n.
// Preconditions: n >= 64 and a multiple of 64; a and b each hold n floats.
//
//go:noescape
func dotAVX512(a, b *float32, n int) float32

// dotAVX2 is dotAVX512 for AVX2.
// Preconditions: n >= 32 and a multiple of 32; a and b each hold n floats.
//
//go:noescape
func dotAVX2(a, b *float32, n int) float32

// fmaPeakAVX512 runs n rounds of 24 independent AVX-512 FMAs (768 flops)
// and nothing else: the core's peak, for BenchmarkFMAPeak. n >= 1.
//
//go:noescape
func fmaPeakAVX512(n int)

// fmaPeakAVX2 runs n rounds of 12 independent AVX2 FMAs (192 flops). n >= 1.
//
//go:noescape
func fmaPeakAVX2(n int)

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

// addAVX2 adds src[i] to dst[i] for i < n.
// Preconditions: n >= 8 and a multiple of 8; dst and src each hold n
// floats.
//
//go:noescape
func addAVX2(dst, src *float32, n int)

// colSumsAVX2 adds to sums[j], for j < n, m[r*stride+j] for r < rows, in
// row order. Preconditions: rows >= 1; n >= 8 and a multiple of 8, n <=
// stride; m holds (rows-1)*stride+n floats and sums n.
//
//go:noescape
func colSumsAVX2(m, sums *float32, rows, stride, n int)

// poolGradRowAVX2 is poolGradRowGo in AVX2 assembly, on pointers to the
// first window's top-left value of x and dz and to the first pooled value
// of y and dy.
// Preconditions: c >= 8 and a multiple of 8; ow >= 1; x and dz hold
// wc + (2*ow)*c floats from there, y and dy ow*c.
//
//go:noescape
func poolGradRowAVX2(x, dz, y, dy *float32, c, wc, ow int)

// microKernel runs the micro-kernel of the level in use (see
// microKernelGo). kb >= 1: sgemm returns before the kernels when k is 0.
func microKernel(kb int, a []float32, rsa, csa int, b []float32, ldb int, c []float32, ldc int, relu, overwrite bool, bias []float32) {
	if level == levelGo || kb < 1 {
		microKernelGo(kb, a, rsa, csa, b, ldb, c, ldc, relu, overwrite, bias)
		return
	}
	// The last element each operand is read at: the slices hold the tile.
	_ = a[(mr-1)*rsa+(kb-1)*csa]
	_ = b[(kb-1)*ldb+nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	var bp, bp16 *float32 // the bias of the tile's columns 0 and 16, if any
	if overwrite && bias != nil {
		_ = bias[nr-1]
		bp, bp16 = &bias[0], &bias[16]
	}
	if level == levelAVX512 {
		kernel12x32AVX512(kb, &a[0], rsa, csa, &b[0], ldb, &c[0], ldc, relu, overwrite, bp)
		return
	}
	kernel6x16AVX2(kb, &a[0], rsa, csa, &b[0], ldb, &c[0], ldc, relu, overwrite, bp)
	kernel6x16AVX2(kb, &a[0], rsa, csa, &b[16], ldb, &c[16], ldc, relu, overwrite, bp16)
	kernel6x16AVX2(kb, &a[6*rsa], rsa, csa, &b[0], ldb, &c[6*ldc], ldc, relu, overwrite, bp)
	kernel6x16AVX2(kb, &a[6*rsa], rsa, csa, &b[16], ldb, &c[6*ldc+16], ldc, relu, overwrite, bp16)
}

// fmaPeak runs n rounds of independent FMAs of the best level and returns
// the flops done, or 0 without assembly.
func fmaPeak(n int) float64 {
	switch {
	case n < 1:
		return 0
	case best == levelAVX512:
		fmaPeakAVX512(n)
		return float64(n) * 24 * 16 * 2
	case best == levelAVX2:
		fmaPeakAVX2(n)
		return float64(n) * 12 * 8 * 2
	}
	return 0
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

func dot(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	switch {
	case level == levelAVX512 && n >= 64:
		head := n &^ 63
		return dotAVX512(&a[0], &b[0], head) + dotGo(a[head:], b[head:])
	case level >= levelAVX2 && n >= 32:
		head := n &^ 31
		return dotAVX2(&a[0], &b[0], head) + dotGo(a[head:], b[head:])
	}
	return dotGo(a, b)
}

// Add adds src to dst, element by element; src holds len(dst) values at
// least.
func Add(dst, src []float32) {
	n := len(dst)
	head := n &^ 7
	if level == levelGo || head == 0 {
		addGo(dst, src)
		return
	}
	_ = src[n-1]
	addAVX2(&dst[0], &src[0], head)
	addGo(dst[head:], src[head:n])
}

// addColumnSums sums whole groups of 8 columns in assembly, each group's
// running sums kept in registers down the rows (a row at a time through
// Add kept them in memory, a store and a load a row), then the tail of
// fewer than 8 columns in Go.
func addColumnSums(m []float32, rows int, sums []float32) {
	c := len(sums)
	head := c &^ 7
	if level == levelGo || head == 0 || rows < 1 {
		addColumnSumsGo(m, rows, sums, 0)
		return
	}
	_ = m[rows*c-1]
	colSumsAVX2(&m[0], &sums[0], rows, c, head)
	if head < c {
		addColumnSumsGo(m, rows, sums, head)
	}
}

func poolGradRow(x, dz, y, dy []float32, c, wc, ow int) {
	if level == levelGo || c%8 != 0 || ow < 1 {
		poolGradRowGo(x, dz, y, dy, c, wc, ow)
		return
	}
	_, _ = x[wc+2*ow*c-1], dz[wc+2*ow*c-1]
	_, _ = y[ow*c-1], dy[ow*c-1]
	poolGradRowAVX2(&x[0], &dz[0], &y[0], &dy[0], c, wc, ow)
}
