// Package kernels holds the float32 compute kernels the network's Gorgonia
// ops run on: a packed matrix multiply with a Go-assembly micro-kernel,
// im2col/col2im for 3x3 convolutions in NHWC layout, and max-pooling.
//
// It knows nothing of Gorgonia: every function works on plain slices the
// caller owns, so the hot path allocates nothing.
package kernels

import "sync"

// The micro-kernel computes an mr x nr tile of C over up to kc depths,
// reading A and B where they lie whenever it can: A(i, p) at
// a[i*rsa + p*csa] covers both a row-major A (rsa = lda, csa = 1) and a
// transposed one (rsa = 1, csa = lda), and a row-major B is read in place.
// Only what does not fit that is packed: a transposed B (small weight
// matrices here), and the last rows of A and columns of B when m or n is
// not a multiple of the tile.
const (
	mr = 12
	nr = 32
	kc = 512 // deepest block: depths up to kc take one block
)

// TileRows is the number of rows of C one micro-kernel call computes: a
// product whose rows are a multiple of it has no edge tiles.
const TileRows = mr

// Sgemm computes C = op(A)·op(B), or C += op(A)·op(B) when acc is true.
// op(A) is m x k and op(B) is k x n; A is stored row-major as m x k with
// leading dimension lda, or as k x m when transA; likewise B is k x n, or
// n x k when transB. C is m x n with leading dimension ldc. A and B are
// only read, so their rows may overlap (lda < k): a convolution reads its
// input's patches that way without an im2col copy.
func Sgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool) {
	sgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, acc, false, nil)
}

// SgemmReLU computes C = max(0, C + op(A)·op(B)), as Sgemm with acc, the
// ReLU applied as the last block of each tile is stored: the last of
// several products summed into one C (a convolution's kernel rows, the
// first of them by SgemmBias) ends with the activation without another
// pass over its output.
func SgemmReLU(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	sgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, true, true, nil)
}

// SgemmBias computes C = A·B + bias, bias[j] added to every row's column
// j, then C = max(C, 0) when relu: a layer's product, bias and activation
// in one pass, C's old values never read. A is m x k and B k x n, neither
// transposed; bias holds n values. The bias is added where the first block
// of each tile is stored, so C comes out as filling every row with the bias
// and then SgemmReLU (or Sgemm with acc) would give it, bit for bit,
// without the fill's pass over C.
func SgemmBias(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, bias []float32, relu bool) {
	sgemm(false, false, m, n, k, a, lda, b, ldb, c, ldc, false, relu, bias[:n])
}

// sgemm is the one product behind Sgemm, SgemmReLU and SgemmBias; bias,
// when not nil, replaces acc (C = bias + A·B).
func sgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc, relu bool, bias []float32) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		switch {
		case bias != nil:
			for i := 0; i < m; i++ {
				copy(c[i*ldc:i*ldc+n], bias)
			}
		case !acc:
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		if relu {
			for i := 0; i < m; i++ {
				ReLU(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	rsa, csa := lda, 1
	if transA {
		rsa, csa = 1, lda
	}
	ws := getWorkspace(n, transB)
	defer putWorkspace(ws)
	// Equal blocks no deeper than kc.
	blocks := (k + kc - 1) / kc
	depth := (k + blocks - 1) / blocks
	for p0 := 0; p0 < k; p0 += depth {
		kb := min(depth, k-p0)
		last := relu && p0+kb == k
		// Without acc, the first block stores its sums (plus the bias)
		// over C instead of adding them: C is never cleared nor read.
		over := (!acc || bias != nil) && p0 == 0
		var tileBias []float32 // the bias of the first block, from column j0
		if over {
			tileBias = bias
		}
		if transB {
			packB(ws.b, b, ldb, p0, kb, n)
		} else if n%nr != 0 {
			packEdgeB(ws.bEdge[:kb*nr], b, ldb, p0, kb, n-n%nr, n%nr)
		}
		for i0 := 0; i0 < m; i0 += mr {
			rows := min(mr, m-i0)
			ap, ars, acs := a[i0*rsa+p0*csa:], rsa, csa
			switch {
			case rows < mr:
				ap, ars, acs = ws.aEdge[:kb*mr], 1, mr
				packEdgeA(ap, a, rsa, csa, i0, rows, p0, kb)
			case transA:
				// In place, a transposed A's tile is kb rows of 12 floats,
				// each in its own cache line: packed, it is one stream
				// that stays in L1 while every panel of B passes.
				ap, ars, acs = ws.aEdge[:kb*mr], 1, mr
				packTransA(ap, a, lda, i0, p0, kb)
			}
			for j0 := 0; j0 < n; j0 += nr {
				cols := min(nr, n-j0)
				var bp []float32
				bs := nr
				switch {
				case transB:
					bp = ws.b[(j0/nr)*nr*kb:]
				case cols == nr:
					bp, bs = b[p0*ldb+j0:], ldb
				default:
					bp = ws.bEdge[:kb*nr]
				}
				ci := i0*ldc + j0
				if rows == mr && cols == nr {
					var tb []float32
					if tileBias != nil {
						tb = tileBias[j0 : j0+nr]
					}
					microKernel(kb, ap, ars, acs, bp, bs, c[ci:], ldc, last, over, tb)
					continue
				}
				// An edge tile: compute into a full scratch tile, then
				// store or add the part that lies inside C.
				microKernel(kb, ap, ars, acs, bp, bs, ws.tile[:], nr, false, true, nil)
				for r := 0; r < rows; r++ {
					dst := c[ci+r*ldc : ci+r*ldc+cols]
					src := ws.tile[r*nr : r*nr+cols]
					switch {
					case tileBias != nil:
						for j := range dst {
							dst[j] = src[j] + tileBias[j0+j]
						}
					case over:
						copy(dst, src)
					default:
						for j := range dst {
							dst[j] += src[j]
						}
					}
					if last {
						ReLU(dst)
					}
				}
			}
		}
	}
}

// packEdgeA copies the last rows (fewer than mr) of op(A), depths
// p0..p0+kb-1, into dst laid out k-major (mr values per depth), padded
// with zeros: A(i, p) is a[i*rsa + p*csa].
func packEdgeA(dst, a []float32, rsa, csa, i0, rows, p0, kb int) {
	if rsa == 1 {
		// A transposed A (the first layer's weight gradient, 9 rows):
		// each depth's values lie side by side.
		for p := 0; p < kb; p++ {
			d := dst[p*mr : p*mr+mr]
			src := a[i0+(p0+p)*csa : i0+(p0+p)*csa+rows]
			copy(d, src)
			clear(d[rows:])
		}
		return
	}
	clear(dst)
	for r := 0; r < rows; r++ {
		base := (i0+r)*rsa + p0*csa
		for p := 0; p < kb; p++ {
			dst[p*mr+r] = a[base+p*csa]
		}
	}
}

// packTransA copies the 12 columns i0.. of a transposed A (stored k x m),
// depths p0..p0+kb-1, into dst, 12 values per depth.
func packTransA(dst, a []float32, lda, i0, p0, kb int) {
	for p := 0; p < kb; p++ {
		// As one array: copy() would call memmove for 12 floats, and
		// twelve assignments are twelve loads and stores; an array of
		// 48 bytes is moved in three 16-byte moves.
		v := *(*[mr]float32)(a[(p0+p)*lda+i0:])
		*(*[mr]float32)(dst[p*mr:]) = v
	}
}

// packEdgeB copies columns j0..j0+cols-1 (cols < nr) of a row-major B,
// depths p0..p0+kb-1, into dst (nr values per depth), padded with zeros.
func packEdgeB(dst, b []float32, ldb, p0, kb, j0, cols int) {
	for p := 0; p < kb; p++ {
		d := dst[p*nr : p*nr+nr]
		copy(d[:cols], b[(p0+p)*ldb+j0:(p0+p)*ldb+j0+cols])
		clear(d[cols:])
	}
}

// packB copies depths p0..p0+kb-1 of op(B) = B^T, B stored n x k, into
// panels of nr columns, each laid out k-major (nr values per depth),
// zero-padding the last panel.
func packB(dst, b []float32, ldb, p0, kb, n int) {
	for j0 := 0; j0 < n; j0 += nr {
		cols := min(nr, n-j0)
		panel := dst[(j0/nr)*nr*kb : (j0/nr)*nr*kb+nr*kb]
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
	aEdge [mr * kc]float32
	bEdge [kc * nr]float32
	b     []float32 // a packed B^T
	tile  [mr * nr]float32
}

// workspaces is a free list rather than a sync.Pool: a pool is emptied at
// every garbage collection, and refilling it cost ~100 kB a training step.
var workspaces struct {
	sync.Mutex
	free []*workspace
}

func getWorkspace(n int, transB bool) *workspace {
	var ws *workspace
	workspaces.Lock()
	if k := len(workspaces.free); k > 0 {
		ws = workspaces.free[k-1]
		workspaces.free = workspaces.free[:k-1]
	}
	workspaces.Unlock()
	if ws == nil {
		ws = new(workspace)
	}
	if transB {
		need := ((n + nr - 1) / nr) * nr * kc
		if cap(ws.b) < need {
			ws.b = make([]float32, need)
		}
		ws.b = ws.b[:need]
	}
	return ws
}

func putWorkspace(ws *workspace) {
	workspaces.Lock()
	if len(workspaces.free) < 32 {
		workspaces.free = append(workspaces.free, ws)
	}
	workspaces.Unlock()
}

// microKernelGo is the portable micro-kernel: C[0:mr][0:nr] += A·B over kb
// depths, A(i, p) at a[i*rsa + p*csa], B(p, j) at b[p*ldb + j], C with
// leading dimension ldc, then C = max(C, 0) when relu; with overwrite,
// C = A·B, C's old values never read (and relu false), or with a bias
// too (nr floats, not nil), C = A·B + bias[j], then the max when relu.
func microKernelGo(kb int, a []float32, rsa, csa int, b []float32, ldb int, c []float32, ldc int, relu, overwrite bool, bias []float32) {
	var acc [mr * nr]float32
	for p := 0; p < kb; p++ {
		brow := (*[nr]float32)(b[p*ldb : p*ldb+nr])
		for r := 0; r < mr; r++ {
			av := a[r*rsa+p*csa]
			row := (*[nr]float32)(acc[r*nr : r*nr+nr])
			for j := range row {
				row[j] += av * brow[j]
			}
		}
	}
	for r := 0; r < mr; r++ {
		dst := c[r*ldc : r*ldc+nr]
		src := acc[r*nr : r*nr+nr]
		switch {
		case overwrite && bias != nil:
			for j := range dst {
				dst[j] = src[j] + bias[j]
			}
		case overwrite:
			copy(dst, src)
			continue
		default:
			for j := range dst {
				dst[j] += src[j]
			}
		}
		if relu {
			ReLU(dst)
		}
	}
}
