// Command robustsets builds the robustness sets (package robust) from
// MNIST's test digits and the installed fonts, scores the served model of
// a model folder on them through the upload path, and with -out writes
// every picture as a PNG to look at.
//
//	go run ./scripts/robustsets -data data/mnist -models saved_models [-n 1000] [-out DIR]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/mnistserve/app/imaging"
	"github.com/mnistserve/app/mnist"
	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/registry"
	"github.com/mnistserve/app/robust"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "robustsets:", err)
		os.Exit(1)
	}
}

func run() error {
	data := flag.String("data", "data/mnist", "folder of the MNIST files")
	models := flag.String("models", "", "model folder whose served model (pinned, else newest) to score (empty: build only)")
	n := flag.Int("n", robust.DefaultDigits, "test digits per derived set")
	out := flag.String("out", "", "folder to write every picture to, as SET/INDEX-LABEL.png, and SET-input.png: the 28x28 inputs the network receives, 10 a row")
	wrong := flag.Bool("wrong", false, "list each picture the model gets wrong")
	flag.Parse()
	test, err := mnist.LoadTest(*data)
	if err != nil {
		return err
	}
	fonts := robust.FindFonts(robust.FontDirs...)
	sets, err := robust.Build(context.Background(), test, *n, fonts)
	if err != nil {
		return err
	}
	fmt.Printf("%d font files found\n", len(fonts))
	if *out != "" {
		for _, s := range sets {
			dir := filepath.Join(*out, s.Name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			for i, pic := range s.PNGs {
				name := filepath.Join(dir, fmt.Sprintf("%04d-%d.png", i, s.Labels[i]))
				if err := os.WriteFile(name, pic, 0o644); err != nil {
					return err
				}
			}
			if err := writeInputs(filepath.Join(*out, s.Name+"-input.png"), s); err != nil {
				return err
			}
		}
	}
	if *models == "" {
		return nil
	}
	p, err := registry.New(registry.NewFolder(*models), slog.New(slog.NewTextHandler(os.Stderr, nil))).Predictor(context.Background())
	if err != nil {
		return err
	}
	defer p.Close()
	scores, err := robust.Score(context.Background(), p, sets)
	if err != nil {
		return err
	}
	fmt.Printf("model %s\n", p.Version())
	if *wrong {
		if err := listWrong(p, sets); err != nil {
			return err
		}
	}
	for _, s := range sets {
		fmt.Printf("%-10s %5d pictures  accuracy %.4f\n", s.Name, s.Len(), scores[s.Name])
	}
	return nil
}

// writeInputs writes the 28x28 inputs the upload path makes of the first
// 400 pictures of s side by side, 10 a row, as one PNG.
func writeInputs(path string, s *robust.Set) error {
	n := min(s.Len(), 400)
	const side, perRow = mnist.Side, 10
	rows := (n + perRow - 1) / perRow
	img := image.NewGray(image.Rect(0, 0, perRow*side, rows*side))
	for i := range n {
		in, err := imaging.Decode(bytes.NewReader(s.PNGs[i]))
		if err != nil {
			continue // left black
		}
		x0, y0 := i%perRow*side, i/perRow*side
		for p, v := range in {
			img.Pix[(y0+p/side)*img.Stride+x0+p%side] = v
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// listWrong prints each picture of sets that p gets wrong or the upload
// path refuses.
func listWrong(p *model.Predictor, sets []*robust.Set) error {
	for _, s := range sets {
		for i, pic := range s.PNGs {
			in, err := imaging.Decode(bytes.NewReader(pic))
			if err != nil {
				fmt.Printf("%s %d (a %d): %v\n", s.Name, i, s.Labels[i], err)
				continue
			}
			probs, err := p.Predict(context.Background(), [][]byte{in})
			if err != nil {
				return err
			}
			if got := model.Best(probs[0]); got != int(s.Labels[i]) {
				fmt.Printf("%s %d: a %d read as %d\n", s.Name, i, s.Labels[i], got)
			}
		}
	}
	return nil
}
