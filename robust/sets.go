// Package robust builds digit sets unlike MNIST's own, the way users'
// digits differ from it (turned, bolder or finer, blurred, off-centre,
// photographed dark on light, typed in a font), and scores a model on them
// through the upload path: each digit is a PNG that imaging.Decode turns
// into the network's input, as the server does with an upload.
package robust

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/mnistserve/app/mnist"
)

// DefaultDigits is how many test digits each derived set holds.
const DefaultDigits = 1000

// Set is a named set of labelled PNG pictures of digits.
type Set struct {
	Name   string
	PNGs   [][]byte
	Labels []byte
}

// Len returns the number of pictures.
func (s *Set) Len() int { return len(s.Labels) }

// Names of the sets Build makes, in the order it returns them.
const (
	Rotated   = "rotated"   // turned 20 degrees, either way in turn
	Thicker   = "thicker"   // strokes one pixel wider
	Thinner   = "thinner"   // strokes one pixel narrower
	LowRes    = "lowres"    // shrunk to 10x10 and enlarged again
	OffCentre = "offcentre" // small, near a corner of a larger canvas
	Photo     = "photo"     // dark on light paper, uneven light, noise
	Fonts     = "fonts"     // 0-9 typed in each installed font
)

// derived is how each set made from MNIST test digits draws one picture:
// i is the digit's place in the set, r its own generator.
var derived = []struct {
	name string
	make func(g grid, i int, r *rand.Rand) (grid, paper)
}{
	{Rotated, func(g grid, i int, _ *rand.Rand) (grid, paper) {
		angle := 20.0
		if i%2 == 1 {
			angle = -20
		}
		return g.enlarge(2).rotate(angle), mnistPaper
	}},
	{Thicker, func(g grid, _ int, _ *rand.Rand) (grid, paper) { return g.morph(true).enlarge(2), mnistPaper }},
	{Thinner, func(g grid, _ int, _ *rand.Rand) (grid, paper) { return g.morph(false).enlarge(2), mnistPaper }},
	{LowRes, func(g grid, _ int, _ *rand.Rand) (grid, paper) { return g.shrink(10, 10).enlarge(6), mnistPaper }},
	{OffCentre, func(g grid, _ int, r *rand.Rand) (grid, paper) {
		// A 28 px digit in a 96 px canvas, within 12 px of a corner.
		const canvas, side, edge = 96, 28, 12
		corner := func() int {
			if r.IntN(2) == 0 {
				return r.IntN(edge + 1)
			}
			return canvas - side - r.IntN(edge+1)
		}
		return g.place(canvas, canvas, corner(), corner()), mnistPaper
	}},
	{Photo, func(g grid, _ int, r *rand.Rand) (grid, paper) {
		return g.enlarge(3), paper{
			background: 170 + 50*r.Float64(),
			ink:        40 + 50*r.Float64(),
			gradient:   40 * r.Float64(),
			noise:      6 + 6*r.Float64(),
		}
	}},
}

// Build makes the sets from n of the test digits (spread evenly over the
// set) and, when fonts names any, the font digits. The same inputs give the
// same pictures.
func Build(ctx context.Context, test *mnist.Set, n int, fonts []string) ([]*Set, error) {
	n = min(n, test.Len())
	if n < 1 {
		return nil, fmt.Errorf("build robustness sets: no test digits")
	}
	sets := make([]*Set, len(derived), len(derived)+1)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for k, d := range derived {
		set := &Set{Name: d.name, PNGs: make([][]byte, n), Labels: make([]byte, n)}
		sets[k] = set
		g.Go(func() error {
			for i := range n {
				if err := ctx.Err(); err != nil {
					return err
				}
				j := i * test.Len() / n
				r := rand.New(rand.NewPCG(uint64(k), uint64(i)))
				pic, p := d.make(fromMNIST(test.Image(j)), i, r)
				b, err := pic.png(p, r)
				if err != nil {
					return fmt.Errorf("build %s set: %w", d.name, err)
				}
				set.PNGs[i], set.Labels[i] = b, test.Labels[j]
			}
			return nil
		})
	}
	var typed *Set
	if len(fonts) > 0 {
		g.Go(func() error {
			var err error
			typed, err = FontDigits(fonts)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if typed != nil && typed.Len() > 0 {
		sets = append(sets, typed)
	}
	return sets, nil
}
