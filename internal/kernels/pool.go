package kernels

import "math"

// MaxPool2 takes the maximum of each 2x2 window (stride 2, odd edges
// dropped) of n NHWC images of h x w x c into y.
func MaxPool2(n, h, w, c int, x, y []float32) {
	oh, ow := h/2, w/2
	for b := 0; b < n; b++ {
		MaxPool2Rows(oh, ow, c, w, x[b*h*w*c:], y[b*oh*ow*c:])
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

// MaxPool2ReLUGrad is the gradient of MaxPool2 applied to the output x of
// a ReLU, taken through the ReLU too: each window's gradient dy goes to
// the first of its inputs that equals the window's maximum y, unless that
// maximum is 0 (the ReLU was off there); every other value of dz, the
// dropped odd edges included, is 0. dz is written whole, never read, so it
// needs no clearing.
//
// It compares bit patterns and selects with masks, so that nothing
// branches: the winners fall at random. Bits equal values exactly but for
// -0 against +0, which a ReLU's output never holds.
func MaxPool2ReLUGrad(n, h, w, c int, x, y, dy, dz []float32) {
	oh, ow := h/2, w/2
	for b := 0; b < n; b++ {
		img := dz[b*h*w*c : (b+1)*h*w*c]
		if h%2 == 1 {
			clear(img[(h-1)*w*c:])
		}
		for i := 0; i < oh; i++ {
			if w%2 == 1 {
				clear(img[((2*i)*w+w-1)*c : ((2*i)*w+w)*c])
				clear(img[((2*i+1)*w+w-1)*c : ((2*i+1)*w+w)*c])
			}
			base := ((b*h + 2*i) * w) * c
			o := ((b*oh + i) * ow) * c
			poolGradRow(x[base:], dz[base:], y[o:], dy[o:], c, w*c, ow)
		}
	}
}

// poolGradRowGo is MaxPool2ReLUGrad for one row of ow windows of c
// channels: x and dz from the first window's top-left value, the window's
// second row wc values further, y and dy from its pooled values.
func poolGradRowGo(x, dz, y, dy []float32, c, wc, ow int) {
	for j := 0; j < ow; j++ {
		base, o := 2*j*c, j*c
		p00, p01 := x[base:base+c], x[base+c:base+2*c]
		p10, p11 := x[base+wc:base+wc+c], x[base+wc+c:base+wc+2*c]
		d00, d01 := dz[base:base+c], dz[base+c:base+2*c]
		d10, d11 := dz[base+wc:base+wc+c], dz[base+wc+c:base+wc+2*c]
		yo, gy := y[o:o+c], dy[o:o+c]
		_, _, _, _, _, _ = p11[len(yo)-1], d00[len(yo)-1], d01[len(yo)-1], d10[len(yo)-1], d11[len(yo)-1], gy[len(yo)-1]
		for ch, v := range yo {
			m := math.Float32bits(v)
			g := math.Float32bits(gy[ch]) &^ equal(m, 0)
			e00 := equal(math.Float32bits(p00[ch]), m)
			e01 := equal(math.Float32bits(p01[ch]), m) &^ e00
			e10 := equal(math.Float32bits(p10[ch]), m) &^ (e00 | e01)
			e11 := ^(e00 | e01 | e10)
			d00[ch] = math.Float32frombits(g & e00)
			d01[ch] = math.Float32frombits(g & e01)
			d10[ch] = math.Float32frombits(g & e10)
			d11[ch] = math.Float32frombits(g & e11)
		}
	}
}

// equal is all ones when a == b, else 0.
func equal(a, b uint32) uint32 {
	d := a ^ b
	return ^uint32(int32(d|-d) >> 31)
}
