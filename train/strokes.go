package train

import (
	"math"
	"math/rand/v2"

	"github.com/mnistserve/app/mnist"
)

// Shares of the 1s given a foot or a flag (or both), and of the 7s given a
// bar across the stem: what many writers and most fonts add, and MNIST's
// American writers mostly did not, so a network trained on MNIST alone
// reads a 1 with a foot as a 2.
//
// Serif fonts put the same foot under the stem of a 4. Were the 1s the
// only digits with a foot, the foot alone would say "1", and a heavy serif
// 4 (a thick stem, a foot, a hairline diagonal) is read as a 1; so as
// many 4s get a foot as 1s do (two thirds of augmentOneSerif), and the
// foot tells a 1 from a 4 nothing.
const (
	augmentOneSerif = 0.3
	augmentSevenBar = 0.25
	augmentFourFoot = augmentOneSerif * 2 / 3
)

// inkProfile describes where the ink of a 28x28 image lies.
type inkProfile struct {
	top, bottom int     // first and last rows holding ink
	width       float64 // mean ink per row: about the stroke's width
}

// profile finds the rows holding ink (above a third of full) in img.
func profile(img []float32) (inkProfile, bool) {
	p := inkProfile{top: -1}
	var mass float64
	for y := range mnist.Side {
		for _, v := range img[y*mnist.Side : (y+1)*mnist.Side] {
			if v > 1.0/3 {
				if p.top < 0 {
					p.top = y
				}
				p.bottom = y
			}
			mass += float64(v)
		}
	}
	if p.top < 0 || p.bottom-p.top < 8 {
		return p, false
	}
	p.width = mass / float64(p.bottom-p.top+1)
	return p, true
}

// rowCentre returns the mean x of the ink of rows y0..y1.
func rowCentre(img []float32, y0, y1 int) float64 {
	var sum, sx float64
	for y := max(y0, 0); y <= min(y1, mnist.Side-1); y++ {
		for x, v := range img[y*mnist.Side : (y+1)*mnist.Side] {
			sum += float64(v)
			sx += float64(v) * float64(x)
		}
	}
	if sum == 0 {
		return (mnist.Side - 1) / 2.0
	}
	return sx / sum
}

// addStrokes may give a 1 a foot and a flag, a 4 a foot, or a 7 a bar,
// drawn from r.
func addStrokes(img []float32, label byte, r *rand.Rand) {
	switch label {
	case 1:
		if r.Float64() >= augmentOneSerif {
			return
		}
		p, ok := profile(img)
		if !ok {
			return
		}
		foot, flag := true, true
		switch r.IntN(3) {
		case 0:
			flag = false
		case 1:
			foot = false
		}
		w := min(max(p.width, 1.5), 3.5)
		if foot {
			addFoot(img, p.bottom, w, r)
		}
		if flag {
			x := rowCentre(img, p.top, p.top+1)
			length := 3.5 + 2.5*r.Float64()
			angle := (25 + 30*r.Float64()) * math.Pi / 180
			y := float64(p.top) + w/2 - 0.5
			line(img, x, y, x-length*math.Cos(angle), y+length*math.Sin(angle), w)
		}
	case 4:
		if r.Float64() >= augmentFourFoot {
			return
		}
		p, ok := profile(img)
		if !ok {
			return
		}
		// Only the stem reaches the bottom rows of a 4: their ink per row
		// is its width (the profile's mean counts the bar and the diagonal).
		var mass float64
		for _, v := range img[(p.bottom-2)*mnist.Side : (p.bottom+1)*mnist.Side] {
			mass += float64(v)
		}
		addFoot(img, p.bottom, min(max(mass/3, 1.5), 3.5), r)
	case 7:
		if r.Float64() >= augmentSevenBar {
			return
		}
		p, ok := profile(img)
		if !ok {
			return
		}
		y := float64(p.top+p.bottom)/2 + 1
		x := rowCentre(img, int(y)-1, int(y)+1)
		half := 2.5 + 1.5*r.Float64()
		line(img, x-half, y, x+half, y, min(max(p.width, 1.5), 3))
	}
}

// addFoot draws a horizontal stroke of width w, 5 to 9 px long, centred
// under the ink of the two rows that end at row bottom.
func addFoot(img []float32, bottom int, w float64, r *rand.Rand) {
	x := rowCentre(img, bottom-1, bottom)
	half := 2.5 + 2*r.Float64()
	y := float64(bottom) - w/2 + 0.5
	line(img, x-half, y, x+half, y, w)
}

// line draws a stroke of the given width from (x0, y0) to (x1, y1) into
// img, anti-aliased, keeping the brighter of it and what is there.
func line(img []float32, x0, y0, x1, y1, width float64) {
	dx, dy := x1-x0, y1-y0
	l2 := dx*dx + dy*dy
	// Only pixels within width/2+0.5 of the segment get ink: those in its
	// bounding box widened by that much (one more for the rounding).
	r := width/2 + 1.5
	bx0 := max(int(math.Floor(min(x0, x1)-r)), 0)
	bx1 := min(int(math.Ceil(max(x0, x1)+r)), mnist.Side-1)
	by0 := max(int(math.Floor(min(y0, y1)-r)), 0)
	by1 := min(int(math.Ceil(max(y0, y1)+r)), mnist.Side-1)
	for y := by0; y <= by1; y++ {
		for x := bx0; x <= bx1; x++ {
			px, py := float64(x)-x0, float64(y)-y0
			t := 0.0
			if l2 > 0 {
				t = min(max((px*dx+py*dy)/l2, 0), 1)
			}
			ex, ey := px-t*dx, py-t*dy
			v := float32(min(max(width/2+0.5-math.Sqrt(ex*ex+ey*ey), 0), 1))
			if i := y*mnist.Side + x; v > img[i] {
				img[i] = v
			}
		}
	}
}
