// Package train runs the training of the convnet on MNIST: the epoch loop,
// progress reporting, evaluation and saving of the model.
package train

import (
	"errors"
	"fmt"

	"github.com/mnistserve/app/mnist"
	"github.com/mnistserve/app/model"
)

// Config holds the settings of one training run.
type Config struct {
	DataDir  string  // folder of the four MNIST files
	ModelDir string  // where the model is saved, unless Save is set
	Epochs   int     // passes over the training images
	Batch    int     // images per step
	LR       float64 // Adam learning rate: the peak of a one-cycle schedule
	Schedule string  // how the rate moves: ScheduleOneCycle or ScheduleConstant
	Warmup   float64 // share of the steps a one-cycle schedule warms up over
	Seed     int64   // seeds initialisation, shuffling and dropout
	Limit    int     // train on only the first Limit training images; 0 = all
	Workers  int     // goroutines per step; 0 = GOMAXPROCS

	// Augment gives every training image a seeded random change each
	// epoch: a small rotation, shear, scale and shift, and for some a
	// stroke one pixel thicker or thinner or a lower resolution.
	Augment bool
	// CheckpointAt, when above 0, saves the model after each epoch whose
	// validation accuracy reaches it and beats every checkpoint saved
	// before, marked as a checkpoint (model.Meta.Checkpoint), so that a
	// first boot serves a good-enough model long before the run ends. The
	// last epoch saves the finished model instead.
	CheckpointAt float64
	// Robustness scores the saved model on the robustness sets (package
	// robust) at the end of the run and keeps the scores in its metadata.
	Robustness bool
	// From, when set, holds the weights training starts from instead of
	// fresh ones (fine-tuning), and is trained in place; FromVersion names
	// that model.
	From        *model.Weights
	FromVersion string
	// Save stores the trained model and returns its completed metadata;
	// nil saves it in the folder ModelDir (model.Save). The model
	// registry sets it so that a model saved in the database is announced
	// to every replica. A run may call it more than once (checkpoints).
	Save func(*model.Weights, model.Meta) (model.Meta, error)
	// Feedback holds labelled stored images trained on beside MNIST's;
	// FeedbackHeldOut holds those kept aside to score the model on.
	Feedback, FeedbackHeldOut *mnist.Set
}

// DefaultConfig returns the default recipe: the network, batch (128) and
// Adam of the Keras mnist_convnet example, 15 epochs, with a one-cycle
// learning rate peaking at 0.008 after the first tenth of the steps and
// the default augmentation; seed 1, and the folders README.md documents.
func DefaultConfig() Config {
	return Config{
		DataDir: "data/mnist", ModelDir: "saved_models", Epochs: 15, Batch: 128, Seed: 1,
		LR: 0.008, Schedule: ScheduleOneCycle, Warmup: 0.05, Augment: true, Robustness: true,
	}
}

// ErrConfig is wrapped by errors about settings out of range.
var ErrConfig = errors.New("invalid training setting")

// Validate checks the settings before any work starts.
func (c Config) Validate() error {
	// maxWorkers bounds --workers: each worker keeps its own buffers, and
	// a million of them took 4 GB before the first step.
	const maxWorkers = 1024
	switch {
	case c.Epochs < 1:
		return fmt.Errorf("epochs %d: want at least 1: %w", c.Epochs, ErrConfig)
	case c.Batch < 1 || c.Batch > 4096:
		return fmt.Errorf("batch %d: want 1..4096: %w", c.Batch, ErrConfig)
	case !(c.LR > 0 && c.LR < 10):
		return fmt.Errorf("learning rate %v: want a positive number below 10: %w", c.LR, ErrConfig)
	case c.Limit < 0:
		return fmt.Errorf("limit %d: want 0 (all) or more: %w", c.Limit, ErrConfig)
	case c.Workers < 0 || c.Workers > maxWorkers:
		return fmt.Errorf("workers %d: want 0 (all cores) to %d: %w", c.Workers, maxWorkers, ErrConfig)
	case c.DataDir == "" || c.ModelDir == "":
		return fmt.Errorf("data and model folders must be set: %w", ErrConfig)
	}
	return c.validSchedule()
}
