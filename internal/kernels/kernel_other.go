//go:build !amd64

package kernels

var useAVX512, hasAVX512 = false, false

func microKernel(kb int, ap, bp, c []float32, ldc int, relu bool) {
	microKernelGo(kb, ap, bp, c, ldc, relu)
}

func max4(dst, a, b, c, d []float32) { max4Go(dst, a, b, c, d) }
