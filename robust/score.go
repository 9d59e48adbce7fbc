package robust

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/mnistserve/app/imaging"
	"github.com/mnistserve/app/mnist"
	"github.com/mnistserve/app/model"
)

// Score returns each set's accuracy under p, each picture read through
// imaging.Decode as an upload is. A picture the upload path refuses (no
// digit found) counts as wrong: the user got no answer. The pictures are
// decoded on every core, as a server decodes concurrent uploads.
func Score(ctx context.Context, p *model.Predictor, sets []*Set) (map[string]float64, error) {
	scores := make(map[string]float64, len(sets))
	for _, s := range sets {
		if s.Len() == 0 {
			continue
		}
		decoded, err := decodeAll(ctx, s)
		if err != nil {
			return nil, err
		}
		var imgs [][]byte
		var labels []byte
		for i, img := range decoded {
			if img != nil {
				imgs = append(imgs, img)
				labels = append(labels, s.Labels[i])
			}
		}
		right := 0
		if len(imgs) > 0 {
			probs, err := p.Predict(ctx, imgs)
			if err != nil {
				return nil, fmt.Errorf("score %s set: %w", s.Name, err)
			}
			for i, pr := range probs {
				if model.Best(pr) == int(labels[i]) {
					right++
				}
			}
		}
		scores[s.Name] = float64(right) / float64(s.Len())
	}
	return scores, nil
}

// decodeAll reads each picture of s through imaging.Decode, spread over
// the cores; a picture refused as empty leaves nil in its place.
func decodeAll(ctx context.Context, s *Set) ([][]byte, error) {
	out := make([][]byte, s.Len())
	g, ctx := errgroup.WithContext(ctx)
	workers := runtime.GOMAXPROCS(0)
	per := (s.Len() + workers - 1) / workers
	for lo := 0; lo < s.Len(); lo += per {
		hi := min(s.Len(), lo+per)
		g.Go(func() error {
			for i := lo; i < hi; i++ {
				if err := ctx.Err(); err != nil {
					return err
				}
				img, err := imaging.Decode(bytes.NewReader(s.PNGs[i]))
				if errors.Is(err, imaging.ErrEmpty) {
					continue
				}
				if err != nil {
					return fmt.Errorf("score %s set, picture %d: %w", s.Name, i, err)
				}
				out[i] = img
			}
			return nil
		})
	}
	return out, g.Wait()
}

// Summary puts scores (as Score returns them) into a model's metadata,
// rounded to four places.
func Summary(scores map[string]float64) *model.Robustness {
	r := func(name string) float64 { return math.Round(scores[name]*1e4) / 1e4 }
	s := &model.Robustness{
		Rotated: r(Rotated), Thicker: r(Thicker), Thinner: r(Thinner),
		LowRes: r(LowRes), OffCentre: r(OffCentre), Photo: r(Photo),
	}
	if _, ok := scores[Fonts]; ok {
		f := r(Fonts)
		s.Fonts = &f
	}
	return s
}

// Measure builds the sets from n test digits and the fonts under FontDirs
// and scores p on them.
func Measure(ctx context.Context, p *model.Predictor, test *mnist.Set, n int) (map[string]float64, []*Set, error) {
	sets, err := Build(ctx, test, n, FindFonts(FontDirs...))
	if err != nil {
		return nil, nil, err
	}
	scores, err := Score(ctx, p, sets)
	return scores, sets, err
}

// Line writes r on one line, for the end of `app train` and `app eval`.
func Line(r *model.Robustness) string {
	line := fmt.Sprintf("robustness (through the upload path): rotated %.4f  thicker %.4f  thinner %.4f  lowres %.4f  offcentre %.4f  photo %.4f",
		r.Rotated, r.Thicker, r.Thinner, r.LowRes, r.OffCentre, r.Photo)
	if r.Fonts != nil {
		line += fmt.Sprintf("  fonts %.4f", *r.Fonts)
	} else {
		line += "  fonts (no fonts found)"
	}
	return line
}
