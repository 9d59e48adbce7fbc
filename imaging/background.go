package imaging

import "image"

// borderQuantile is the share of the border pixels at or below the level
// clearBackground takes for background: high enough to take in the uneven
// light and sensor noise of a photo, low enough that strokes running off
// the edge (a few per cent of the border at most) do not count.
const borderQuantile = 0.98

// clearBackground lowers the stretched g so that the level of most of its
// border becomes 0, spreading what is above it over 0..255 again. It
// returns whether it changed anything: a clean scan or a drawing has a
// border of 0 and is left as it is. Without it, the speckles and the lit
// corner of a photo pass inkLevel and the digit's box grows to the whole
// picture, so the digit comes out small and off-centre.
func clearBackground(g *image.Gray) bool {
	var hist [256]int
	n := 0
	eachBorder(g.Bounds(), func(x, y int) {
		hist[g.Pix[g.PixOffset(x, y)]]++
		n++
	})
	floor, seen := 0, 0
	for v, c := range hist {
		seen += c
		if float64(seen) >= borderQuantile*float64(n) {
			floor = v
			break
		}
	}
	// A border that bright is ink, not paper: leave the picture alone.
	if floor == 0 || floor > 255-minContrast {
		return false
	}
	scale := 255 / float64(255-floor)
	for i, v := range g.Pix {
		g.Pix[i] = uint8(min(max(float64(int(v)-floor)*scale+0.5, 0), 255))
	}
	return true
}

// smooth3 returns g averaged over each pixel's 3x3 neighbourhood (the edge
// pixels over those inside): isolated speckles fall below inkLevel, strokes
// do not.
func smooth3(g *image.Gray) *image.Gray {
	b := g.Bounds()
	out := image.NewGray(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			sum, n := 0, 0
			for yy := max(y-1, b.Min.Y); yy <= min(y+1, b.Max.Y-1); yy++ {
				for xx := max(x-1, b.Min.X); xx <= min(x+1, b.Max.X-1); xx++ {
					sum += int(g.Pix[g.PixOffset(xx, yy)])
					n++
				}
			}
			out.Pix[out.PixOffset(x, y)] = uint8((sum + n/2) / n)
		}
	}
	return out
}
