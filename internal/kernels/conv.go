package kernels

import "math"

// ConvShape describes a valid convolution with stride 1 over NHWC images:
// H x W x Cin in, (H-KH+1) x (W-KW+1) x Cout out. The images may be
// stored larger, ImgH x ImgW, the convolution reading their top-left
// H x W only: a network whose pooling drops a convolution's last row and
// column never needs them, nor the inputs only they read.
type ConvShape struct {
	H, W, Cin, KH, KW, Cout int
	ImgH, ImgW              int // the stored input's size; 0: H and W
}

// OutH returns the output height.
func (s ConvShape) OutH() int { return s.H - s.KH + 1 }

// OutW returns the output width.
func (s ConvShape) OutW() int { return s.W - s.KW + 1 }

// K returns the depth of one im2col row: KH*KW*Cin.
func (s ConvShape) K() int { return s.KH * s.KW * s.Cin }

// RowLen returns the pixels between the starts of two input rows.
func (s ConvShape) RowLen() int {
	if s.ImgW > 0 {
		return s.ImgW
	}
	return s.W
}

// InSize returns the floats of one stored input image.
func (s ConvShape) InSize() int {
	h := s.H
	if s.ImgH > 0 {
		h = s.ImgH
	}
	return h * s.RowLen() * s.Cin
}

// Im2col writes the patches of n images of x into cols, one row of K()
// values per output pixel, ordered (kh, kw, cin) to match a K() x Cout
// weight matrix.
func Im2col(s ConvShape, n int, x, cols []float32) {
	if s.Cin == 1 && s.KH == 3 && s.KW == 3 {
		im2col3x3x1(s, n, x, cols)
		return
	}
	oh, ow, k, w := s.OutH(), s.OutW(), s.K(), s.RowLen()
	run := s.KW * s.Cin // one kernel row is contiguous in NHWC
	for b := 0; b < n; b++ {
		img := x[b*s.InSize():]
		for y := 0; y < oh; y++ {
			for xx := 0; xx < ow; xx++ {
				row := cols[((b*oh+y)*ow+xx)*k:]
				for kh := 0; kh < s.KH; kh++ {
					src := img[((y+kh)*w+xx)*s.Cin:]
					if run <= 8 {
						// a few floats (the first layer's 3): a call to
						// memmove would cost more than the copy
						dst := row[kh*run : kh*run+run]
						for i := range dst {
							dst[i] = src[i]
						}
						continue
					}
					copy(row[kh*run:kh*run+run], src[:run])
				}
			}
		}
	}
}

// im2col3x3x1 is Im2col for a 3x3 kernel over one channel (the first
// layer), each patch's nine values written by name: the general loop's
// three runs of three cost more in loop control than in copying.
func im2col3x3x1(s ConvShape, n int, x, cols []float32) {
	oh, ow, w := s.OutH(), s.OutW(), s.RowLen()
	for b := 0; b < n; b++ {
		img := x[b*s.InSize() : (b+1)*s.InSize()]
		out := cols[b*oh*ow*9 : (b+1)*oh*ow*9]
		for y := 0; y < oh; y++ {
			r0, r1, r2 := img[y*w:(y+1)*w], img[(y+1)*w:(y+2)*w], img[(y+2)*w:(y+3)*w]
			for xx := 0; xx < ow; xx++ {
				d := out[(y*ow+xx)*9 : (y*ow+xx)*9+9]
				a, b, c := r0[xx:xx+3], r1[xx:xx+3], r2[xx:xx+3]
				d[0], d[1], d[2] = a[0], a[1], a[2]
				d[3], d[4], d[5] = b[0], b[1], b[2]
				d[6], d[7], d[8] = c[0], c[1], c[2]
			}
		}
	}
}

// Col2im adds the patch gradients dcols of n images back into dx, the
// adjoint of Im2col; dx must be zeroed by the caller.
func Col2im(s ConvShape, n int, dcols, dx []float32) {
	oh, ow, k, w := s.OutH(), s.OutW(), s.K(), s.RowLen()
	run := s.KW * s.Cin
	for b := 0; b < n; b++ {
		img := dx[b*s.InSize():]
		for y := 0; y < oh; y++ {
			for xx := 0; xx < ow; xx++ {
				row := dcols[((b*oh+y)*ow+xx)*k:]
				for kh := 0; kh < s.KH; kh++ {
					Add(img[((y+kh)*w+xx)*s.Cin:][:run], row[kh*run:kh*run+run])
				}
			}
		}
	}
}

// ReLU clamps negative values of y to zero in place. It masks with the
// sign bit rather than branching: the signs of fresh activations are close
// to random, and a mispredicted branch per value cost more than the rest.
func ReLU(y []float32) {
	for i, v := range y {
		b := math.Float32bits(v)
		y[i] = math.Float32frombits(b &^ uint32(int32(b)>>31))
	}
}

// Dot returns the sum of a[i]*b[i]; b holds at least len(a) values.
func Dot(a, b []float32) float32 { return dot(a, b) }

// dotGo is the portable Dot, four partial sums as the assembly keeps.
func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// AddColumnSums adds the sums of each column of the rows x cols matrix m
// into sums (cols = len(sums)), adding each column's values in row order,
// so that every level gives the same bits.
func AddColumnSums(m []float32, rows int, sums []float32) { addColumnSums(m, rows, sums) }

// addColumnSumsGo is AddColumnSums without assembly, for the columns from
// col on.
func addColumnSumsGo(m []float32, rows int, sums []float32, col int) {
	c := len(sums)
	for r := 0; r < rows; r++ {
		row := m[r*c : r*c+c]
		for j := col; j < c; j++ {
			sums[j] += row[j]
		}
	}
}

// addGo is Add without assembly.
func addGo(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += v
	}
}
