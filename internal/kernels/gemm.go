// Package kernels holds the float32 compute kernels the network's Gorgonia
// ops run on: a packed matrix multiply with a Go-assembly micro-kernel,
// im2col/col2im for 3x3 convolutions in NHWC layout, and max-pooling.
//
// It knows nothing of Gorgonia: every function works on plain slices the
// caller owns, so the hot path allocates nothing.
package kernels

import "sync"

// The micro-kernel computes an mr x nr tile of C from packed panels of A
// (mr rows, interleaved by k) and B (nr columns, interleaved by k).
const (
	mr = 12
	nr = 32
	kc = 512 // deepest packed block: depths up to kc take one block
	mc = 96  // rows of A packed at once (a multiple of mr)
)

// Sgemm computes C = op(A)·op(B), or C += op(A)·op(B) when acc is true.
// op(A) is m x k and op(B) is k x n; A is stored row-major as m x k with
// leading dimension lda, or as k x m when transA; likewise B is k x n, or
// n x k when transB. C is m x n with leading dimension ldc.
func Sgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool) {
	sgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, acc, false)
}

// SgemmReLU computes C = max(0, C + op(A)·op(B)), as Sgemm with acc, the
// ReLU applied as the last block of each tile is stored: a convolution
// whose C starts as its bias gets bias and activation without another
// pass over its output.
func SgemmReLU(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	sgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, true, true)
}

func sgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc, relu bool) {
	if m == 0 || n == 0 {
		return
	}
	if !acc {
		for i := 0; i < m; i++ {
			clear(c[i*ldc : i*ldc+n])
		}
	}
	if k == 0 {
		if relu {
			for i := 0; i < m; i++ {
				ReLU(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	ws := getWorkspace(n)
	defer putWorkspace(ws)
	np := (n + nr - 1) / nr
	// Equal blocks no deeper than kc.
	blocks := (k + kc - 1) / kc
	depth := (k + blocks - 1) / blocks
	for p0 := 0; p0 < k; p0 += depth {
		kb := min(depth, k-p0)
		last := relu && p0+kb == k
		packB(ws.b, transB, b, ldb, p0, kb, n)
		for i0 := 0; i0 < m; i0 += mc {
			ib := min(mc, m-i0)
			packA(ws.a, transA, a, lda, i0, ib, p0, kb)
			for ip := 0; ip < ib; ip += mr {
				rows := min(mr, ib-ip)
				ap := ws.a[ip*kb:]
				for jp := 0; jp < np; jp++ {
					cols := min(nr, n-jp*nr)
					bp := ws.b[jp*nr*kb:]
					ci := (i0+ip)*ldc + jp*nr
					if rows == mr && cols == nr {
						microKernel(kb, ap, bp, c[ci:], ldc, last)
						continue
					}
					// An edge tile: compute into a full scratch tile, then
					// add the part that lies inside C.
					clear(ws.tile[:])
					microKernel(kb, ap, bp, ws.tile[:], nr, false)
					for r := 0; r < rows; r++ {
						dst := c[ci+r*ldc : ci+r*ldc+cols]
						src := ws.tile[r*nr : r*nr+cols]
						for j := range dst {
							dst[j] += src[j]
						}
						if last {
							ReLU(dst)
						}
					}
				}
			}
		}
	}
}

// packA copies rows i0..i0+ib-1, depths p0..p0+kb-1 of op(A) into panels of
// mr rows, each laid out k-major (mr values per k), zero-padding short panels.
func packA(dst []float32, trans bool, a []float32, lda, i0, ib, p0, kb int) {
	if trans {
		// op(A)[i][p] = A[p][i]: each depth is one row of A, read once and
		// dealt out to every panel.
		for p := 0; p < kb; p++ {
			src := a[(p0+p)*lda+i0 : (p0+p)*lda+i0+ib]
			for ip := 0; ip < ib; ip += mr {
				d := dst[ip*kb+p*mr : ip*kb+p*mr+mr]
				if ip+mr <= ib {
					s := src[ip : ip+mr]
					// Spelled out: copy() would call memmove for 12 floats.
					d[0], d[1], d[2], d[3] = s[0], s[1], s[2], s[3]
					d[4], d[5], d[6], d[7] = s[4], s[5], s[6], s[7]
					d[8], d[9], d[10], d[11] = s[8], s[9], s[10], s[11]
					continue
				}
				n := copy(d, src[ip:])
				clear(d[n:])
			}
		}
		return
	}
	for ip := 0; ip < ib; ip += mr {
		rows := min(mr, ib-ip)
		panel := dst[ip*kb : ip*kb+mr*kb]
		if rows < mr {
			clear(panel)
			for r := 0; r < rows; r++ {
				src := a[(i0+ip+r)*lda+p0 : (i0+ip+r)*lda+p0+kb]
				for p, v := range src {
					panel[p*mr+r] = v
				}
			}
			continue
		}
		// Full panels: write the panel in order, reading the mr rows side
		// by side, which keeps the stores sequential.
		var row [mr][]float32
		for r := range row {
			row[r] = a[(i0+ip+r)*lda+p0 : (i0+ip+r)*lda+p0+kb]
		}
		for p := 0; p < kb; p++ {
			d := panel[p*mr : p*mr+mr : p*mr+mr]
			d[0], d[1], d[2], d[3] = row[0][p], row[1][p], row[2][p], row[3][p]
			d[4], d[5], d[6], d[7] = row[4][p], row[5][p], row[6][p], row[7][p]
			d[8], d[9], d[10], d[11] = row[8][p], row[9][p], row[10][p], row[11][p]
		}
	}
}

// packB copies depths p0..p0+kb-1 of op(B) into panels of nr columns, each
// laid out k-major (nr values per k), zero-padding the last panel.
func packB(dst []float32, trans bool, b []float32, ldb, p0, kb, n int) {
	for j0 := 0; j0 < n; j0 += nr {
		cols := min(nr, n-j0)
		panel := dst[(j0/nr)*nr*kb : (j0/nr)*nr*kb+nr*kb]
		if !trans {
			for p := 0; p < kb; p++ {
				d := panel[p*nr : p*nr+nr]
				src := b[(p0+p)*ldb+j0:]
				if cols == nr {
					*(*[nr]float32)(d) = *(*[nr]float32)(src)
					continue
				}
				copy(d[:cols], src[:cols])
				clear(d[cols:])
			}
			continue
		}
		// op(B)[p][j] = B[j][p]
		for j := 0; j < cols; j++ {
			src := b[(j0+j)*ldb+p0 : (j0+j)*ldb+p0+kb]
			for p, v := range src {
				panel[p*nr+j] = v
			}
		}
		for j := cols; j < nr; j++ {
			for p := 0; p < kb; p++ {
				panel[p*nr+j] = 0
			}
		}
	}
}

// workspace holds the packing buffers of one Sgemm call.
type workspace struct {
	a    []float32
	b    []float32
	tile [mr * nr]float32
}

// workspaces is a free list rather than a sync.Pool: a pool is emptied at
// every garbage collection, and refilling it cost ~100 kB a training step.
var workspaces struct {
	sync.Mutex
	free []*workspace
}

func getWorkspace(n int) *workspace {
	var ws *workspace
	workspaces.Lock()
	if k := len(workspaces.free); k > 0 {
		ws = workspaces.free[k-1]
		workspaces.free = workspaces.free[:k-1]
	}
	workspaces.Unlock()
	if ws == nil {
		ws = &workspace{a: make([]float32, mc*kc)}
	}
	need := ((n + nr - 1) / nr) * nr * kc
	if cap(ws.b) < need {
		ws.b = make([]float32, need)
	}
	ws.b = ws.b[:need]
	return ws
}

func putWorkspace(ws *workspace) {
	workspaces.Lock()
	if len(workspaces.free) < 16 {
		workspaces.free = append(workspaces.free, ws)
	}
	workspaces.Unlock()
}

// microKernelGo is the portable micro-kernel: C[0:mr][0:nr] += Ap·Bp over
// kb depths, C with leading dimension ldc, then C = max(C, 0) when relu.
func microKernelGo(kb int, ap, bp, c []float32, ldc int, relu bool) {
	var acc [mr * nr]float32
	for p := 0; p < kb; p++ {
		a := ap[p*mr : p*mr+mr]
		b := bp[p*nr : p*nr+nr]
		for r := 0; r < mr; r++ {
			av := a[r]
			row := acc[r*nr : r*nr+nr]
			for j := range row {
				row[j] += av * b[j]
			}
		}
	}
	for r := 0; r < mr; r++ {
		dst := c[r*ldc : r*ldc+nr]
		src := acc[r*nr : r*nr+nr]
		for j := range dst {
			dst[j] += src[j]
		}
		if relu {
			ReLU(dst)
		}
	}
}
