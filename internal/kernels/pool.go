package kernels

import "math"

// MaxPool2 takes the maximum of each 2x2 window (stride 2, odd edges
// dropped) of n NHWC images of h x w x c, writing y and, for the backward
// pass, the index in x of each maximum into arg.
//
// x must hold no negative values (it follows a ReLU): non-negative floats
// order like their bit patterns as integers, and integer selects compile
// to conditional moves where float compares would branch at random.
func MaxPool2(n, h, w, c int, x, y []float32, arg []int32) {
	oh, ow := h/2, w/2
	for b := 0; b < n; b++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				base := ((b*h+2*i)*w + 2*j) * c
				o := ((b*oh+i)*ow + j) * c
				p00 := x[base : base+c]
				p01 := x[base+c : base+2*c]
				p10 := x[base+w*c : base+w*c+c]
				p11 := x[base+w*c+c : base+w*c+2*c]
				yo := y[o : o+c]
				ao := arg[o : o+c]
				for ch := range yo {
					best, at := math.Float32bits(p00[ch]), int32(base+ch)
					if v := math.Float32bits(p01[ch]); v > best {
						best, at = v, int32(base+c+ch)
					}
					if v := math.Float32bits(p10[ch]); v > best {
						best, at = v, int32(base+w*c+ch)
					}
					if v := math.Float32bits(p11[ch]); v > best {
						best, at = v, int32(base+w*c+c+ch)
					}
					yo[ch] = math.Float32frombits(best)
					ao[ch] = at
				}
			}
		}
	}
}

// MaxPool2Grad routes dy back to the positions arg recorded: dx is
// cleared, then each window's maximum receives its gradient.
func MaxPool2Grad(dy []float32, arg []int32, dx []float32) {
	clear(dx)
	for i, g := range dy {
		dx[arg[i]] += g
	}
}
