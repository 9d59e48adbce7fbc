package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/mnistserve/app/registry"
	"github.com/mnistserve/app/train"
)

var cmdTrain = &Command{
	UsageLine: "app train [flags]",
	Short:     "train the convnet on MNIST and save it",
	Long: `Trains the MNIST convnet, prints progress and test accuracy, and saves the model.

With --feedback it also trains on the predictions users labelled (from the
database --db names, the same as serve's), holding a fifth of them out (by
id) to score; --from starts from a saved model's weights; --promote-if-better
pins the new model only if its test accuracy is at most 0.2 points below
its parent's and its held-out feedback accuracy is higher.`,
	Flag: func(fs *FlagSet) RunFunc {
		cfg := train.DefaultConfig()
		dataFlag(fs, &cfg.DataDir)
		modelsFlag(fs, &cfg.ModelDir)
		fs.Int(&cfg.Epochs, "epochs", "training epochs")
		fs.Int(&cfg.Batch, "batch", "minibatch size")
		fs.Float64(&cfg.LR, "lr", "Adam learning rate (the peak of the onecycle schedule)")
		fs.String(&cfg.Schedule, "schedule", "learning-rate schedule: onecycle (warm up, then a cosine down to lr/100) or constant")
		fs.Float64(&cfg.Warmup, "warmup", "share of the steps onecycle warms up over (at least a fifth of an epoch), from lr/10 to lr")
		fs.Int64(&cfg.Seed, "seed", "random seed: the same seed and data give the same weights")
		fs.Int(&cfg.Limit, "limit", "train on only the first N training images (0 = all)")
		fs.Int(&cfg.Workers, "workers", "goroutines per training step (0 = one per core; at most 1024)")
		fs.Bool(&cfg.Augment, "augment", "give each training image a seeded random change every epoch: rotation, shear, scale, shift, and for some thicker or thinner strokes or a lower resolution (--augment=false: none)")
		fs.Bool(&cfg.Robustness, "robustness", "score the new model on the robustness sets through the upload path and keep the scores in its metadata (--robustness=false: skip)")
		var fb feedbackOptions
		fs.Bool(&fb.Feedback, "feedback", "also train on the labelled stored predictions (a fifth, by id, held out and scored)")
		fs.String(&fb.From, "from", "start from the weights of model `VERSION`, or current: the one served (pinned, else newest valid)")
		fs.Bool(&fb.PromoteIfBetter, "promote-if-better", "with --feedback: pin the new model if its test accuracy is at most 0.2 points below its parent's and its held-out feedback accuracy is higher")
		fs.String(&fb.DB, "db", "database (`URL`) of the labelled predictions for --feedback, and of the models with --models db; empty: the SQLite file predictions.db, as serve", Env("DATABASE_URL"))
		return func(ctx context.Context, _ []string, stdout, stderr io.Writer) error {
			if err := cfg.Validate(); err != nil {
				return err
			}
			if err := writableFolder(cfg.ModelDir); err != nil {
				return err
			}
			reg, closeReg, err := openRegistry(ctx, cfg.ModelDir, fb.DB, stderr)
			if err != nil {
				return err
			}
			defer closeReg()
			cfg.Save = reg.Saver(ctx)
			if fb.Feedback || fb.From != "" || fb.PromoteIfBetter {
				return runFeedbackTrain(ctx, cfg, reg, fb, stdout, stderr)
			}
			return runTrain(ctx, cfg, stdout)
		}
	},
}

// runTrain trains a model and saves it through cfg.Save.
func runTrain(ctx context.Context, cfg train.Config, stdout io.Writer) error {
	meta, err := train.Run(ctx, cfg, train.Printer(stdout))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "model %s: test accuracy %s\n", meta.Version, strconv.FormatFloat(meta.TestAccuracy, 'f', 4, 64))
	return nil
}

// writableFolder checks, before any training, that a model folder (not
// --models db) exists or can be made and takes files: found only when
// the model is saved, a bad --models wasted the whole run.
func writableFolder(dir string) error {
	if dir == registry.InDatabase {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--models %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("--models %s: cannot write there: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}
