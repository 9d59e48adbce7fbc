//go:build !amd64 || purego

package kernels

// Without assembly (another architecture, or the purego build tag) the
// portable kernels are the only ones.
var best, level = levelGo, levelGo

func microKernel(kb int, a []float32, rsa, csa int, b []float32, ldb int, c []float32, ldc int, relu, overwrite bool, bias []float32) {
	microKernelGo(kb, a, rsa, csa, b, ldb, c, ldc, relu, overwrite, bias)
}

// fmaPeak has no assembly to run here.
func fmaPeak(int) float64 { return 0 }

func max4(dst, a, b, c, d []float32) { max4Go(dst, a, b, c, d) }

func dot(a, b []float32) float32 { return dotGo(a, b) }

func Add(dst, src []float32) { addGo(dst, src) }

func addColumnSums(m []float32, rows int, sums []float32) { addColumnSumsGo(m, rows, sums, 0) }

func poolGradRow(x, dz, y, dy []float32, c, wc, ow int) { poolGradRowGo(x, dz, y, dy, c, wc, ow) }
