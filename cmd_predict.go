package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/mnistserve/app/imaging"
	"github.com/mnistserve/app/model"
)

var cmdPredict = &Command{
	UsageLine: "app predict [flags] IMAGE.png|IMAGE.jpg ...",
	Short:     "classify PNG or JPEG files with the served model (pinned, else newest)",
	Long: `Prints the digit the served model (pinned, else newest valid) sees in each
PNG or JPEG (any size, dark on light or light on dark), its confidence and the
10 probabilities.`,
	Args: true,
	Flag: func(fs *FlagSet) RunFunc {
		ms := defaultModelStore()
		ms.flags(fs)
		return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			if len(args) == 0 {
				fmt.Fprintln(stderr, "no image files given")
				fs.Usage()
				return errUsage
			}
			return runPredict(ctx, ms, args, stdout, stderr)
		}
	},
}

// runPredict classifies image files with the served model, without a
// server: a quick way to try a model on your own digits.
func runPredict(ctx context.Context, ms modelStore, files []string, stdout, stderr io.Writer) error {
	p, err := ms.predictor(ctx, stderr)
	if err != nil {
		return err // it says to train one
	}
	defer p.Close()
	imgs := make([][]byte, 0, len(files))
	for _, name := range files {
		img, err := decodeFile(name)
		if err != nil {
			return err
		}
		imgs = append(imgs, img)
	}
	probs, err := p.Predict(ctx, imgs)
	if err != nil {
		return err
	}
	for i, pr := range probs {
		d := model.Best(pr)
		fmt.Fprintf(stdout, "%s: %d (confidence %.3f) probabilities %.3f\n", files[i], d, pr[d], pr)
	}
	return nil
}

func decodeFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := imaging.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return img, nil
}
