package kernels

import "math"

// MaxPool2 takes the maximum of each 2x2 window (stride 2, odd edges
// dropped) of n NHWC images of h x w x c into y.
func MaxPool2(n, h, w, c int, x, y []float32) {
	oh, ow := h/2, w/2
	for b := 0; b < n; b++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				base := ((b*h+2*i)*w + 2*j) * c
				o := ((b*oh+i)*ow + j) * c
				max4(y[o:o+c], x[base:base+c], x[base+c:base+2*c], x[base+w*c:base+w*c+c], x[base+w*c+c:base+w*c+2*c])
			}
		}
	}
}

// MaxPool2Rows is MaxPool2 for one image whose rows are xw pixels apart
// (xw >= 2*ow): the oh x ow x c maxima of the 2x2 windows of x into y. A
// convolution computed over whole input rows leaves its last columns
// unused; pooling skips them.
func MaxPool2Rows(oh, ow, c, xw int, x, y []float32) {
	for i := 0; i < oh; i++ {
		for j := 0; j < ow; j++ {
			base := (2*i*xw + 2*j) * c
			o := (i*ow + j) * c
			max4(y[o:o+c], x[base:base+c], x[base+c:base+2*c], x[base+xw*c:base+xw*c+c], x[base+xw*c+c:base+xw*c+2*c])
		}
	}
}

// max4Go writes the elementwise maximum of a, b, c and d into dst.
func max4Go(dst, a, b, c, d []float32) {
	a, b, c, d = a[:len(dst)], b[:len(dst)], c[:len(dst)], d[:len(dst)]
	for i := range dst {
		dst[i] = max(a[i], b[i], c[i], d[i])
	}
}

// MaxPool2Grad routes the gradient dy of MaxPool2's output y back to x,
// each window's gradient to the first of its inputs that equals the
// window's maximum; dx is overwritten.
//
// It compares bit patterns, so that the selects compile to conditional
// moves: float compares would branch, at random. Bits equal values exactly
// but for -0 against +0, which a ReLU's output never holds.
func MaxPool2Grad(n, h, w, c int, x, y, dy, dx []float32) {
	clear(dx[:n*h*w*c])
	oh, ow := h/2, w/2
	for b := 0; b < n; b++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				base := ((b*h+2*i)*w + 2*j) * c
				o := ((b*oh+i)*ow + j) * c
				p00 := x[base : base+c]
				p01 := x[base+c : base+2*c]
				p10 := x[base+w*c : base+w*c+c]
				yo := y[o : o+c]
				gy := dy[o : o+c]
				for ch := range yo {
					m := math.Float32bits(yo[ch])
					at := base + w*c + c + ch // p11, unless an earlier one ties
					if math.Float32bits(p10[ch]) == m {
						at = base + w*c + ch
					}
					if math.Float32bits(p01[ch]) == m {
						at = base + c + ch
					}
					if math.Float32bits(p00[ch]) == m {
						at = base + ch
					}
					dx[at] = gy[ch]
				}
			}
		}
	}
}
