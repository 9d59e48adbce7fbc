package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveGemm is the textbook triple loop the packed Sgemm must agree with.
func naiveGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			if acc {
				s += float64(c[i*ldc+j])
			}
			c[i*ldc+j] = float32(s)
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = rng.Float32()*2 - 1
	}
	return s
}

func TestSgemmAgreesWithNaiveProduct(t *testing.T) {
	// Sizes on and off the 12 x 32 tile, depths over one block, and C as a
	// block of a larger matrix starting at a row and column that are not
	// multiples of the tile (r0, c0), between guard values.
	shapes := [][3]int{{1, 1, 1}, {12, 32, 7}, {13, 33, 300}, {5, 10, 1600}, {100, 64, 288}, {288, 64, 500}, {70, 288, 64}, {9, 32, 1000}, {25, 65, 3}, {121, 64, 288}}
	for lv := levelGo; lv <= best; lv++ {
		for _, sh := range shapes {
			for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				for _, acc := range []bool{false, true} {
					m, n, k := sh[0], sh[1], sh[2]
					t.Run(fmt.Sprintf("%s kernel gives the naive product for %dx%dx%d transA=%v transB=%v acc=%v", levelNames[lv], m, n, k, tr[0], tr[1], acc), func(t *testing.T) {
						saved := level
						level = lv
						defer func() { level = saved }()
						testSgemm(t, tr[0], tr[1], m, n, k, acc)
					})
				}
			}
		}
	}
}

func testSgemm(t *testing.T, transA, transB bool, m, n, k int, acc bool) {
	rng := rand.New(rand.NewPCG(uint64(m), uint64(n*k)))
	lda, ldb, ldc := k+3, n+1, n+11
	rowsA, rowsB := m, k
	if transA {
		lda, rowsA = m+2, k
	}
	if transB {
		ldb, rowsB = k+4, n
	}
	const r0, c0 = 3, 5 // where the product starts inside C's matrix
	a := newGuarded(rowsA*lda, randSlice(rng, rowsA*lda))
	b := newGuarded(rowsB*ldb, randSlice(rng, rowsB*ldb))
	c := newGuarded((r0+m)*ldc, randSlice(rng, (r0+m)*ldc))
	a0 := append([]float32(nil), a.s()...)
	b0 := append([]float32(nil), b.s()...)
	want := append([]float32(nil), c.s()...)
	got := c.s()
	Sgemm(transA, transB, m, n, k, a.s(), lda, b.s(), ldb, got[r0*ldc+c0:], ldc, acc)
	naiveGemm(transA, transB, m, n, k, a0, lda, b0, ldb, want[r0*ldc+c0:], ldc, acc)
	a.check(t, "A")
	b.check(t, "B")
	c.check(t, "C")
	for i := range a0 {
		if a.s()[i] != a0[i] {
			t.Fatalf("A[%d] changed", i)
		}
	}
	for i := range b0 {
		if b.s()[i] != b0[i] {
			t.Fatalf("B[%d] changed", i)
		}
	}
	for i := 0; i < r0+m; i++ {
		for j := 0; j < ldc; j++ {
			g, w := got[i*ldc+j], want[i*ldc+j]
			if i < r0 || j < c0 || j >= c0+n {
				// outside the product: must be untouched
				if g != w {
					t.Fatalf("C[%d][%d] outside the product changed: %v, want %v", i, j, g, w)
				}
				continue
			}
			if math.Abs(float64(g-w)) > 1e-3*math.Sqrt(float64(k)) {
				t.Fatalf("C[%d][%d] = %v, want %v", i-r0, j-c0, g, w)
			}
		}
	}
}

func BenchmarkSgemm(b *testing.B) {
	cases := []struct {
		name           string
		transA, transB bool
		m, n, k        int
	}{
		{"conv2-forward", false, false, 15488, 64, 288},
		{"conv2-dW", true, false, 288, 64, 15488},
		{"conv2-dcols", false, true, 15488, 288, 64},
		// the shapes training runs: a weight-gradient part of 8 images,
		// a forward group of 3
		{"conv2-dW-part", true, false, 288, 64, 800},
		{"conv2-fwd-group", false, false, 300, 64, 288},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			x := randSlice(rng, c.m*c.k)
			y := randSlice(rng, c.k*c.n)
			z := make([]float32, c.m*c.n)
			lda, ldb := c.k, c.n
			if c.transA {
				lda = c.m
			}
			if c.transB {
				ldb = c.k
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				Sgemm(c.transA, c.transB, c.m, c.n, c.k, x, lda, y, ldb, z, c.n, false)
			}
			b.ReportMetric(2*float64(c.m*c.n*c.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

func TestSgemmReLUClampsTheFinalSumOnly(t *testing.T) {
	// k = 1100 spans several blocks: clamping a partial sum would be wrong.
	for lv := levelGo; lv <= best; lv++ {
		for _, sh := range [][3]int{{30, 64, 288}, {13, 40, 1100}, {12, 32, 9}} {
			m, n, k := sh[0], sh[1], sh[2]
			t.Run(fmt.Sprintf("%s %dx%dx%d", levelNames[lv], m, n, k), func(t *testing.T) {
				saved := level
				level = lv
				defer func() { level = saved }()
				rng := rand.New(rand.NewPCG(uint64(k), 9))
				a, b := randSlice(rng, m*k), randSlice(rng, k*n)
				g := newGuarded(m*n, randSlice(rng, m*n))
				c := g.s()
				want := append([]float32(nil), c...)
				SgemmReLU(false, false, m, n, k, a, k, b, n, c, n)
				g.check(t, "C")
				naiveGemm(false, false, m, n, k, a, k, b, n, want, n, true)
				ReLU(want)
				neg := 0
				for i := range c {
					if math.Abs(float64(c[i]-want[i])) > 1e-3*math.Sqrt(float64(k)) {
						t.Fatalf("C[%d] = %v, want %v", i, c[i], want[i])
					}
					if want[i] == 0 {
						neg++
					}
				}
				if neg == 0 || neg == len(c) {
					t.Fatalf("test data clamps %d of %d values: not a test of the clamp", neg, len(c))
				}
			})
		}
	}
}

// BenchmarkFMAPeak measures this core's FMA peak: independent vector FMAs
// on registers and nothing else (fmaPeakAVX512, or AVX2 without AVX-512).
// The GEMM's and a training step's GFLOPS are quoted against it.
func BenchmarkFMAPeak(b *testing.B) {
	if fmaPeak(1) == 0 {
		b.Skip("no FMA assembly on this CPU or build")
	}
	const rounds = 1 << 16
	var flops float64
	for i := 0; i < b.N; i++ {
		flops += fmaPeak(rounds)
	}
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOPS")
}

func TestSgemmReadsOverlappingRowsOfAInPlace(t *testing.T) {
	// The second convolution's patches: rows of A 32 floats apart, each 96
	// long, so that consecutive rows share 64 values (lda < k).
	const m, n, k, lda = 30, 64, 96, 32
	for lv := levelGo; lv <= best; lv++ {
		saved := level
		level = lv
		rng := rand.New(rand.NewPCG(7, 8))
		a := randSlice(rng, (m-1)*lda+k)
		b := randSlice(rng, k*n)
		g := newGuarded(m*n, randSlice(rng, m*n))
		want := append([]float32(nil), g.s()...)
		Sgemm(false, false, m, n, k, a, lda, b, n, g.s(), n, true)
		naiveGemm(false, false, m, n, k, a, lda, b, n, want, n, true)
		g.check(t, "C")
		for i, got := range g.s() {
			if math.Abs(float64(got-want[i])) > 1e-3*math.Sqrt(k) {
				t.Fatalf("%s: C[%d] = %v, want %v", levelNames[lv], i, got, want[i])
			}
		}
		level = saved
	}
}

// SgemmBias must give, bit for bit, what filling C's rows with the bias
// and then SgemmReLU (or Sgemm with acc) gives, at every level: the
// layers' outputs, and so the trained weights, do not change with it.
// The shapes cover full and edge
// tiles (rows not a multiple of 12, columns of 32), one block and several
// (k over kc), and no depth at all; C starts as garbage that must not be
// read, and nothing outside it may be written.
func TestSgemmBiasIsTheFillAndTheProduct(t *testing.T) {
	for lv := levelGo; lv <= best; lv++ {
		for _, sh := range [][3]int{{24, 32, 9}, {30, 64, 288}, {13, 40, 1100}, {7, 10, 50}, {36, 45, 600}, {5, 8, 0}} {
			for _, relu := range []bool{false, true} {
				m, n, k := sh[0], sh[1], sh[2]
				t.Run(fmt.Sprintf("%s %dx%dx%d relu %v", levelNames[lv], m, n, k, relu), func(t *testing.T) {
					saved := level
					level = lv
					defer func() { level = saved }()
					rng := rand.New(rand.NewPCG(uint64(k+m), 11))
					a, b, bias := randSlice(rng, m*k), randSlice(rng, k*n), randSlice(rng, n)
					want := make([]float32, m*n)
					for r := 0; r < m; r++ {
						copy(want[r*n:], bias)
					}
					if relu {
						SgemmReLU(false, false, m, n, k, a, k, b, n, want, n)
					} else {
						Sgemm(false, false, m, n, k, a, k, b, n, want, n, true)
					}
					g := newGuarded(m*n, randSlice(rng, m*n)) // garbage, never read
					c := g.s()
					SgemmBias(m, n, k, a, k, b, n, c, n, bias, relu)
					g.check(t, "C")
					zero := 0
					for i := range c {
						if math.Float32bits(c[i]) != math.Float32bits(want[i]) {
							t.Fatalf("C[%d] = %v, want %v (the fill and the product)", i, c[i], want[i])
						}
						if c[i] == 0 {
							zero++
						}
					}
					if relu && k > 0 && (zero == 0 || zero == len(c)) {
						t.Fatalf("test data clamps %d of %d values: not a test of the clamp", zero, len(c))
					}
				})
			}
		}
	}
}
