package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestMaxPool2PicksTheLargestOfEachWindowAndRoutesItsGradientThroughTheReLU(t *testing.T) {
	for lv := levelGo; lv <= best; lv++ {
		saved := level
		level = lv
		testMaxPool2(t, 2, 5, 4, 3)
		testMaxPool2(t, 2, 6, 4, 32)
		testMaxPool2(t, 1, 4, 4, 8)  // 8 channels: AVX2 width, not AVX-512's
		testMaxPool2(t, 2, 5, 7, 16) // odd width too: the last column is dropped
		level = saved
	}
}

func testMaxPool2(t *testing.T, n, h, w, c int) { // an odd height: the last row is dropped
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, n*h*w*c)
	for i := range x {
		x[i] = float32(rng.IntN(50)) / 7 // ties happen, values >= 0
	}
	// The first window of image 0 is all zeros: a ReLU that was off
	// everywhere there passes no gradient.
	for k := 0; k < 4; k++ {
		for ch := 0; ch < c; ch++ {
			x[((k/2)*w+k%2)*c+ch] = 0
		}
	}
	yg := newGuarded(n*(h/2)*(w/2)*c, nil)
	y := yg.s()
	MaxPool2(n, h, w, c, x, y)
	yg.check(t, "MaxPool2 output")
	for b := 0; b < n; b++ {
		for i := 0; i < h/2; i++ {
			for j := 0; j < w/2; j++ {
				for ch := 0; ch < c; ch++ {
					var want float32 = -1
					for di := 0; di < 2; di++ {
						for dj := 0; dj < 2; dj++ {
							want = max(want, x[((b*h+2*i+di)*w+2*j+dj)*c+ch])
						}
					}
					o := ((b*(h/2)+i)*(w/2)+j)*c + ch
					if y[o] != want {
						t.Fatalf("window (%d,%d,%d,%d): max %v, want %v", b, i, j, ch, y[o], want)
					}
				}
			}
		}
	}
	dy := make([]float32, len(y))
	for i := range dy {
		dy[i] = float32(i + 1)
	}
	dxg := newGuarded(len(x), nil)
	dx := dxg.s()
	for i := range dx {
		dx[i] = 99 // stale values must be overwritten
	}
	MaxPool2ReLUGrad(n, h, w, c, x, y, dy, dx)
	dxg.check(t, "MaxPool2ReLUGrad output")
	for b := 0; b < n; b++ {
		for i := 0; i < h; i++ {
			for j := 0; j < w; j++ {
				for ch := 0; ch < c; ch++ {
					got := dx[((b*h+i)*w+j)*c+ch]
					var want float32
					if i/2 < h/2 && j/2 < w/2 {
						// the first position of the window holding its max gets the gradient
						o := ((b*(h/2)+i/2)*(w/2)+j/2)*c + ch
						first := -1
						for k := 0; k < 4 && first < 0; k++ {
							if x[((b*h+2*(i/2)+k/2)*w+2*(j/2)+k%2)*c+ch] == y[o] {
								first = k
							}
						}
						if first == (i%2)*2+j%2 && y[o] != 0 {
							want = dy[o]
						}
					}
					if got != want {
						t.Fatalf("dx at (%d,%d,%d,%d) = %v, want %v", b, i, j, ch, got, want)
					}
				}
			}
		}
	}
}

func TestIm2colAndCol2imAreAdjoint(t *testing.T) {
	// 3 channels take the general loop, 1 channel the unrolled 3x3 one;
	// images stored larger than the part convolved (ImgH x ImgW) too.
	// Col2im adds runs of KW*Cin values: 9 and 48 take the assembly adds
	// (with a tail of 1, and none), 3 the Go loop.
	for lv := levelGo; lv <= best; lv++ {
		saved := level
		level = lv
		for _, cin := range []int{3, 1, 16} {
			testIm2colAndCol2im(t, ConvShape{H: 6, W: 5, Cin: cin, KH: 3, KW: 3, Cout: 4})
			testIm2colAndCol2im(t, ConvShape{H: 6, W: 5, Cin: cin, KH: 3, KW: 3, Cout: 4, ImgH: 8, ImgW: 7})
		}
		level = saved
	}
}

func testIm2colAndCol2im(t *testing.T, s ConvShape) {
	// <im2col(x), d> == <x, col2im(d)> for all x and d: col2im is the
	// transpose of im2col, which is what the backward pass relies on.
	const n = 2
	rng := rand.New(rand.NewPCG(3, 4))
	x := randSlice(rng, n*s.InSize())
	d := randSlice(rng, n*s.OutH()*s.OutW()*s.K())
	colsg := newGuarded(len(d), nil)
	cols := colsg.s()
	Im2col(s, n, x, cols)
	colsg.check(t, "Im2col output")
	backg := newGuarded(len(x), nil)
	back := backg.s()
	Col2im(s, n, d, back)
	backg.check(t, "Col2im output")
	var lhs, rhs float64
	for i := range d {
		lhs += float64(cols[i]) * float64(d[i])
	}
	for i := range x {
		rhs += float64(x[i]) * float64(back[i])
	}
	if diff := lhs - rhs; diff > 1e-3 || diff < -1e-3 {
		t.Fatalf("<im2col x, d> = %v but <x, col2im d> = %v", lhs, rhs)
	}
	// and one patch by hand: output pixel (1,2) of image 1, kernel (2,1), channel 2
	row := ((1*s.OutH()+1)*s.OutW() + 2) * s.K()
	ch := s.Cin - 1
	got := cols[row+(2*s.KW+1)*s.Cin+ch]
	want := x[1*s.InSize()+((1+2)*s.RowLen()+2+1)*s.Cin+ch]
	if got != want {
		t.Fatalf("patch value %v, want %v", got, want)
	}
}

func TestReLUClampsNegativesToZero(t *testing.T) {
	yg := newGuarded(6, []float32{-2, float32(math.Copysign(0, -1)), 0, 0.5, 3, -1e-30}) // -0.0 would be +0 in Go
	y := yg.s()
	ReLU(y)
	yg.check(t, "ReLU")
	want := []float32{0, 0, 0, 0.5, 3, 0}
	for i := range y {
		if y[i] != want[i] {
			t.Fatalf("ReLU: %v, want %v", y, want)
		}
	}
}

func TestAddColumnSumsAddsEachColumn(t *testing.T) {
	for lv := levelGo; lv <= best; lv++ {
		saved := level
		level = lv
		testAddColumnSums(t, 7, 5)
		testAddColumnSums(t, 7, 13) // 8 in assembly, then a tail of 5
		testAddColumnSums(t, 1, 8)
		testAddColumnSums(t, 9, 32) // one group of 32
		testAddColumnSums(t, 6, 64) // two groups of 32
		testAddColumnSums(t, 5, 45) // 32, then 8, then a tail of 5
		testAddColumnSums(t, 0, 16) // no rows: sums unchanged
		level = saved
	}
}

func testAddColumnSums(t *testing.T, rows, cols int) {
	// Values of many magnitudes, so that a sum in another order than
	// the rows' rounds differently: every level must give the same bits
	// as adding row after row (training's determinism rests on it).
	m := make([]float32, rows*cols)
	for i := range m {
		m[i] = float32(math.Sin(float64(i))) * float32(math.Pow(10, float64(i%7-3)))
	}
	start := make([]float32, cols)
	for j := range start {
		start[j] = float32(100*(j+1)) + 1/float32(j+3)
	}
	g := newGuarded(cols, start)
	AddColumnSums(m, rows, g.s())
	g.check(t, "sums")
	for j, got := range g.s() {
		want := start[j]
		for r := 0; r < rows; r++ {
			want += m[r*cols+j]
		}
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("level %s, %dx%d, column %d: %v, want %v (the rows' order)", Accelerated(), rows, cols, j, got, want)
		}
	}
}

func TestDotAgreesWithTheSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for lv := levelGo; lv <= best; lv++ {
		saved := level
		level = lv
		for _, n := range []int{0, 1, 31, 32, 63, 64, 100, 1600} {
			a, b := randSlice(rng, n), randSlice(rng, n+3)
			var want float64
			for i := range a {
				want += float64(a[i]) * float64(b[i])
			}
			if got := Dot(a, b); math.Abs(float64(got)-want) > 1e-4*math.Sqrt(float64(n+1)) {
				t.Errorf("%s, n=%d: Dot = %v, want %v", levelNames[lv], n, got, want)
			}
		}
		level = saved
	}
}

func TestMaxPool2RowsSkipsTheColumnsPastTheWindows(t *testing.T) {
	// 4 x 5 windows' worth of a 9 x 13 row layout: columns 10..12 and row 8
	// hold huge values that no window may pick.
	const oh, ow, c, xw = 4, 5, 16, 13
	x := make([]float32, 9*xw*c)
	for r := 0; r < 9; r++ {
		for col := 0; col < xw; col++ {
			for ch := 0; ch < c; ch++ {
				v := float32(r*100 + col*3 + ch)
				if r >= 2*oh || col >= 2*ow {
					v = 1e9
				}
				x[(r*xw+col)*c+ch] = v
			}
		}
	}
	for lv := levelGo; lv <= best; lv++ {
		saved := level
		level = lv
		g := newGuarded(oh*ow*c, nil)
		MaxPool2Rows(oh, ow, c, xw, x, g.s())
		g.check(t, "MaxPool2Rows output")
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				for ch := 0; ch < c; ch++ {
					want := float32((2*i+1)*100 + (2*j+1)*3 + ch) // the bottom-right of each window
					if got := g.s()[(i*ow+j)*c+ch]; got != want {
						t.Fatalf("%s: window (%d,%d,%d) = %v, want %v", levelNames[lv], i, j, ch, got, want)
					}
				}
			}
		}
		level = saved
	}
}
