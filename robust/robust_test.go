package robust

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/mnistserve/app/imaging"
	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/mnist"
	"github.com/mnistserve/app/model"
)

// testSet loads the MNIST fixture's test images.
func testSet(tb testing.TB) *mnist.Set {
	tb.Helper()
	test, err := mnist.LoadTest(testutil.MNISTFixture(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return test
}

// decodeGray decodes a PNG made by this package.
func decodeGray(tb testing.TB, pic []byte) *image.Gray {
	tb.Helper()
	img, err := png.Decode(bytes.NewReader(pic))
	if err != nil {
		tb.Fatal(err)
	}
	g, ok := img.(*image.Gray)
	if !ok {
		tb.Fatalf("picture is %T, want *image.Gray", img)
	}
	return g
}

// ink returns the mean grey level of g.
func ink(g *image.Gray) float64 {
	sum := 0
	for _, v := range g.Pix {
		sum += int(v)
	}
	return float64(sum) / float64(len(g.Pix))
}

func TestBuildMakesTheSameSetsEachTime(t *testing.T) {
	test := testSet(t)
	a, err := Build(context.Background(), test, 40, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(context.Background(), test, 40, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{Rotated, Thicker, Thinner, LowRes, OffCentre, Photo}
	if len(a) != len(want) {
		t.Fatalf("%d sets without fonts, want %d", len(a), len(want))
	}
	for k, s := range a {
		if s.Name != want[k] || s.Len() != 40 {
			t.Errorf("set %d is %s with %d pictures, want %s with 40", k, s.Name, s.Len(), want[k])
		}
		for i := range s.PNGs {
			if !bytes.Equal(s.PNGs[i], b[k].PNGs[i]) || s.Labels[i] != b[k].Labels[i] {
				t.Fatalf("%s picture %d differs between two builds", s.Name, i)
			}
		}
		// Spread over the test set: picture i is test digit i*450/40.
		if s.Labels[3] != test.Labels[3*test.Len()/40] {
			t.Errorf("%s: label %d of picture 3, want test label %d", s.Name, s.Labels[3], test.Labels[3*test.Len()/40])
		}
	}
}

func TestEachSetChangesTheDigitAsItsNameSays(t *testing.T) {
	sets, err := Build(context.Background(), testSet(t), 20, nil)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Set{}
	for _, s := range sets {
		byName[s.Name] = s
	}
	for i := range 20 {
		thick, thin := decodeGray(t, byName[Thicker].PNGs[i]), decodeGray(t, byName[Thinner].PNGs[i])
		if ink(thick) <= 1.3*ink(thin) {
			t.Errorf("picture %d: the thicker digit has %.1f mean ink, the thinner %.1f: want clearly more", i, ink(thick), ink(thin))
		}
		photo := decodeGray(t, byName[Photo].PNGs[i])
		if corner := photo.GrayAt(0, 0).Y; corner < 100 {
			t.Errorf("photo %d: corner grey %d, want light paper", i, corner)
		}
		off := decodeGray(t, byName[OffCentre].PNGs[i])
		var sum, sx, sy float64
		for y := range off.Rect.Dy() {
			for x := range off.Rect.Dx() {
				v := float64(off.GrayAt(x, y).Y)
				sum, sx, sy = sum+v, sx+v*float64(x), sy+v*float64(y)
			}
		}
		if dx, dy := sx/sum-47.5, sy/sum-47.5; dx*dx+dy*dy < 20*20 {
			t.Errorf("off-centre %d: ink centred %.0f, %.0f px from the middle, want at least 20", i, dx, dy)
		}
		if low := decodeGray(t, byName[LowRes].PNGs[i]); low.Rect.Dx() != 60 {
			t.Errorf("low-resolution picture %d is %d px wide, want 10 enlarged 6 times", i, low.Rect.Dx())
		}
	}
}

func TestFontDigitsTypesZeroToNineInEachFont(t *testing.T) {
	fonts := FindFonts(FontDirs...)
	if len(fonts) == 0 {
		t.Skip("no fonts installed under", FontDirs)
	}
	notFont := filepath.Join(t.TempDir(), "broken.ttf")
	if err := os.WriteFile(notFont, []byte("not a font"), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := FontDigits([]string{fonts[0], notFont})
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 10 {
		t.Fatalf("%d pictures from one font and one broken file, want 10", set.Len())
	}
	for d := range 10 {
		if _, err := imaging.Decode(bytes.NewReader(set.PNGs[d])); err != nil || set.Labels[d] != byte(d) {
			t.Errorf("digit %d: label %d, decode error %v", d, set.Labels[d], err)
		}
	}
	if g := decodeGray(t, set.PNGs[0]); g.GrayAt(0, 0).Y != 255 || ink(g) > 250 || ink(g) < 200 {
		t.Errorf("typed 0: corner %d, mean %.0f; want dark ink on white", g.GrayAt(0, 0).Y, ink(g))
	}
}

func TestScoreCountsEveryPictureAndRefusedOnesAsWrong(t *testing.T) {
	sets, err := Build(context.Background(), testSet(t), 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := sets[0]
	p := model.NewPredictor(model.NewWeights(1), model.Meta{})
	defer p.Close()
	// Label each picture with what the model answers, then spoil one
	// label and replace one picture by a blank page.
	for i, pic := range s.PNGs {
		in, err := imaging.Decode(bytes.NewReader(pic))
		if err != nil {
			t.Fatal(err)
		}
		probs, err := p.Predict(context.Background(), [][]byte{in})
		if err != nil {
			t.Fatal(err)
		}
		s.Labels[i] = byte(model.Best(probs[0]))
	}
	s.Labels[0] = (s.Labels[0] + 1) % 10
	blank, err := newGrid(28, 28).png(mnistPaper, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.PNGs[1] = blank
	scores, err := Score(context.Background(), p, []*Set{s})
	if err != nil {
		t.Fatal(err)
	}
	if got := scores[s.Name]; got != 0.8 {
		t.Errorf("score %v, want 0.8: 8 right of 10, the blank page counted wrong", got)
	}
}
