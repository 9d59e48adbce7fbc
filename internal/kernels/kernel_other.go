//go:build !amd64 || purego

package kernels

// Without assembly (another architecture, or the purego build tag) the
// portable kernels are the only ones.
var best, level = levelGo, levelGo

func microKernel(kb int, ap, bp, c []float32, ldc int, relu bool) {
	microKernelGo(kb, ap, bp, c, ldc, relu)
}

func max4(dst, a, b, c, d []float32) { max4Go(dst, a, b, c, d) }
