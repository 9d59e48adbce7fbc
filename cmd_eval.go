package main

import (
	"context"
	"fmt"
	"io"

	"github.com/mnistserve/app/mnist"
	"github.com/mnistserve/app/robust"
	"github.com/mnistserve/app/train"
)

var cmdEval = &Command{
	UsageLine: "app eval [flags]",
	Short:     "test accuracy and confusion matrix of the served model (pinned, else newest)",
	Long: `Prints the test accuracy and confusion matrix of the served model (pinned,
else newest), then its accuracy on each robustness set (package robust: test
digits turned, bolder, finer, at low resolution, off-centre, photographed,
and the installed fonts' digits), each sent as a PNG through the upload path.`,
	Flag: func(fs *FlagSet) RunFunc {
		cfg := train.DefaultConfig()
		ms := defaultModelStore()
		dataFlag(fs, &cfg.DataDir)
		ms.flags(fs)
		return func(ctx context.Context, _ []string, stdout, stderr io.Writer) error {
			return runEval(ctx, ms, cfg.DataDir, stdout, stderr)
		}
	},
}

// runEval measures the served model of ms on the 10,000 MNIST test
// images in data.
func runEval(ctx context.Context, ms modelStore, data string, stdout, stderr io.Writer) error {
	p, err := ms.predictor(ctx, stderr)
	if err != nil {
		return err // it says to train one
	}
	defer p.Close()
	test, err := mnist.LoadTest(data)
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
	scores, _, err := robust.Measure(ctx, p, test, robust.DefaultDigits)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, robust.Line(robust.Summary(scores)))
	return nil
}
