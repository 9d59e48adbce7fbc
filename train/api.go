// Package train runs the training of the convnet on MNIST: the epoch loop,
// progress reporting, evaluation and saving of the model.
package train

import (
	"context"
	"errors"
	"io"

	"github.com/mnistserve/app/model"
)

// Config holds the settings of one training run.
type Config struct {
	DataDir  string
	ModelDir string
	Epochs   int
	Batch    int
	LR       float64
	Seed     int64
	Limit    int
}

// DefaultConfig returns the contract's defaults.
func DefaultConfig() Config {
	return Config{DataDir: "data/mnist", ModelDir: "saved_models", Epochs: 15, Batch: 128, LR: 0.001, Seed: 1}
}

// Run trains a model with cfg, writing progress to out, and saves it in
// cfg.ModelDir. It returns the metadata of the saved model.
func Run(ctx context.Context, cfg Config, out io.Writer) (model.Meta, error) {
	return model.Meta{}, errors.New("not implemented")
}
