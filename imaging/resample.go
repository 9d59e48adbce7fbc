package imaging

import (
	"image"
	"math"
)

// tap is one source sample's share of a destination sample.
type tap struct {
	src    int
	weight float32
}

// axisTaps returns, for each of m destination samples spanning n source
// samples, the source samples it is made of. Shrinking averages each
// destination pixel's whole footprint (area averaging, which is how
// anti-aliasing a bilevel scan into 20x20 behaves); enlarging interpolates
// linearly, so a tiny drawing does not come out as blocks.
func axisTaps(n, m int) [][]tap {
	f := float64(n) / float64(m)
	taps := make([][]tap, m)
	for i := range taps {
		if f <= 1 {
			s := min(max((float64(i)+0.5)*f-0.5, 0), float64(n-1))
			j := int(s)
			t := float32(s - float64(j))
			taps[i] = append(taps[i], tap{j, 1 - t})
			if j+1 < n && t > 0 {
				taps[i] = append(taps[i], tap{j + 1, t})
			}
			continue
		}
		lo, hi := float64(i)*f, float64(i+1)*f
		for j := int(lo); j < n && float64(j) < hi; j++ {
			overlap := math.Min(hi, float64(j+1)) - math.Max(lo, float64(j))
			if overlap > 0 {
				taps[i] = append(taps[i], tap{j, float32(overlap / f)})
			}
		}
	}
	return taps
}

// resize returns the part of g inside r resampled to w x h pixels.
func resize(g *image.Gray, r image.Rectangle, w, h int) *image.Gray {
	xs, ys := axisTaps(r.Dx(), w), axisTaps(r.Dy(), h)
	// Rows first: each source row shrinks to w columns.
	rows := make([]float32, r.Dy()*w)
	for y := 0; y < r.Dy(); y++ {
		src := g.Pix[g.PixOffset(r.Min.X, r.Min.Y+y):]
		for x, col := range xs {
			var s float32
			for _, t := range col {
				s += t.weight * float32(src[t.src])
			}
			rows[y*w+x] = s
		}
	}
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y, row := range ys {
		for x := 0; x < w; x++ {
			var s float32
			for _, t := range row {
				s += t.weight * rows[t.src*w+x]
			}
			out.Pix[y*out.Stride+x] = uint8(min(max(math.Round(float64(s)), 0), 255))
		}
	}
	return out
}
