package robust

import (
	"context"
	"testing"

	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/mnist"
	"github.com/mnistserve/app/model"
)

// BenchmarkMeasure times the end of a default `app train`: building the
// sets from DefaultDigits test digits and the installed fonts, then scoring
// them through the upload path, as sub-benchmarks of each part.
func BenchmarkMeasure(b *testing.B) {
	test, err := mnist.LoadTest(testutil.MNISTDir(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	fonts := FindFonts(FontDirs...)
	p := model.NewPredictor(model.NewWeights(1), model.Meta{})
	defer p.Close()
	b.Run("build", func(b *testing.B) {
		for b.Loop() {
			if _, err := Build(ctx, test, DefaultDigits, fonts); err != nil {
				b.Fatal(err)
			}
		}
	})
	sets, err := Build(ctx, test, DefaultDigits, fonts)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("score", func(b *testing.B) {
		for b.Loop() {
			if _, err := Score(ctx, p, sets); err != nil {
				b.Fatal(err)
			}
		}
	})
}
