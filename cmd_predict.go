package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mnistserve/app/imaging"
	"github.com/mnistserve/app/mnist"
	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/train"
)

// modelFlags registers --models on fs, defaulting to MODEL_DIR or
// saved_models, and returns where it will hold the value.
func modelFlags(fs *flag.FlagSet) *string {
	return fs.String("models", envOr("MODEL_DIR", train.DefaultConfig().ModelDir), "folder of trained models; the newest valid one is used (env MODEL_DIR)")
}

// runPredict classifies image files with the newest saved model, without a
// server: a quick way to try a model on your own digits.
func runPredict(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := modelFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: app predict [flags] IMAGE.png|IMAGE.jpg ...")
		fmt.Fprintln(fs.Output(), "\nPrints the digit the newest saved model sees in each PNG or JPEG (any size,\ndark on light or light on dark), its confidence and the 10 probabilities.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return errUsage
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	p, err := model.LoadPredictor(*dir)
	if err != nil {
		return fmt.Errorf("%w (train one with `app train`)", err)
	}
	defer p.Close()
	imgs := make([][]byte, 0, fs.NArg())
	for _, name := range fs.Args() {
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
		fmt.Fprintf(stdout, "%s: %d (confidence %.3f) probabilities %.3f\n", fs.Arg(i), d, pr[d], pr)
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

// runEval measures the newest saved model on the 10,000 MNIST test images.
func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := modelFlags(fs)
	data := fs.String("data", envOr("MNIST_DIR", train.DefaultConfig().DataDir), "folder of the MNIST files (env MNIST_DIR)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: app eval [flags]")
		fmt.Fprintln(fs.Output(), "\nPrints the test accuracy and confusion matrix of the newest saved model.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	p, err := model.LoadPredictor(*dir)
	if err != nil {
		return fmt.Errorf("%w (train one with `app train`)", err)
	}
	defer p.Close()
	test, err := mnist.LoadTest(*data)
	if err != nil {
		return err
	}
	cm, err := train.Confusion(ctx, p, test)
	if err != nil {
		return err
	}
	m := p.Meta()
	fmt.Fprintf(stdout, "model %s (trained %s, %d epochs)\ntest accuracy %.4f on %d images\n%s",
		m.Version, m.CreatedAt.Format("2006-01-02 15:04"), m.Epochs, cm.Accuracy(), test.Len(), cm)
	return nil
}
