package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/mnistserve/app/train"
)

var cmdTrain = &Command{
	UsageLine: "app train [flags]",
	Short:     "train the convnet on MNIST and save it",
	Long:      "Trains the MNIST convnet, prints progress and test accuracy, and saves the model.",
	Flag: func(fs *FlagSet) RunFunc {
		cfg := train.DefaultConfig()
		dataFlag(fs, &cfg.DataDir)
		modelsFlag(fs, &cfg.ModelDir)
		fs.Int(&cfg.Epochs, "epochs", "training epochs")
		fs.Int(&cfg.Batch, "batch", "minibatch size")
		fs.Float64(&cfg.LR, "lr", "Adam learning rate")
		fs.Int64(&cfg.Seed, "seed", "random seed: the same seed and data give the same weights")
		fs.Int(&cfg.Limit, "limit", "train on only the first N training images (0 = all)")
		fs.Int(&cfg.Workers, "workers", "goroutines per training step (0 = one per core)")
		return func(ctx context.Context, _ []string, stdout, _ io.Writer) error {
			return runTrain(ctx, cfg, stdout)
		}
	},
}

// dataFlag declares --data, the MNIST folder, for every command that reads it.
func dataFlag(fs *FlagSet, p *string) {
	fs.String(p, "data", "folder (`DIR`) of the four MNIST IDX files, raw or .gz", Env("MNIST_DIR"))
}

// modelsFlag declares --models, the model folder, for every command that
// reads or writes models.
func modelsFlag(fs *FlagSet, p *string) {
	fs.String(p, "models", "folder (`DIR`) where models are saved and the newest valid one is loaded", Env("MODEL_DIR"))
}

func runTrain(ctx context.Context, cfg train.Config, stdout io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	meta, err := train.Run(ctx, cfg, train.Printer(stdout))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "model %s: test accuracy %s\n", meta.Version, strconv.FormatFloat(meta.TestAccuracy, 'f', 4, 64))
	return nil
}
