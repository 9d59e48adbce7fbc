package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/mnistserve/app/train"
)

// trainConfig returns the training settings: the defaults, then the
// environment (MNIST_DIR, MODEL_DIR), then the flags in args.
func trainConfig(args []string, stderr io.Writer) (train.Config, error) {
	cfg := train.DefaultConfig()
	cfg.DataDir = envOr("MNIST_DIR", cfg.DataDir)
	cfg.ModelDir = envOr("MODEL_DIR", cfg.ModelDir)

	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: app train [flags]")
		fmt.Fprintln(fs.Output(), "\nTrains the MNIST convnet, prints progress and test accuracy, and saves the model.\n\nflags:")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "folder of the MNIST files (env MNIST_DIR)")
	fs.StringVar(&cfg.ModelDir, "models", cfg.ModelDir, "folder to save the model in (env MODEL_DIR)")
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "passes over the training images")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "images per training step")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "Adam learning rate")
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "random seed: the same seed and data give the same weights")
	fs.IntVar(&cfg.Limit, "limit", cfg.Limit, "train on only the first N training images (0 = all)")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "goroutines per step (0 = all cores)")
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := trainConfig(args, stderr)
	if err != nil {
		return err
	}
	meta, err := train.Run(ctx, cfg, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "model %s: test accuracy %s\n", meta.Version, strconv.FormatFloat(meta.TestAccuracy, 'f', 4, 64))
	return nil
}
