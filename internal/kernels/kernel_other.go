//go:build !amd64

package kernels

const (
	levelGo = iota
	levelAVX2
	levelAVX512
)

var best, level = levelGo, levelGo

func microKernel(kb int, ap, bp, c []float32, ldc int, relu bool) {
	microKernelGo(kb, ap, bp, c, ldc, relu)
}

func max4(dst, a, b, c, d []float32) { max4Go(dst, a, b, c, d) }
