package model

import "time"

// Meta is the metadata written beside each weights file as <name>.json.
type Meta struct {
	Version       string    `json:"version"`
	Architecture  string    `json:"architecture"`
	CreatedAt     time.Time `json:"created_at"`
	Epochs        int       `json:"epochs"`
	TrainImages   int       `json:"train_images"`
	TrainSeconds  float64   `json:"train_seconds"`
	TestAccuracy  float64   `json:"test_accuracy"`
	ValAccuracy   float64   `json:"val_accuracy"`
	WeightsSHA256 string    `json:"weights_sha256"`
	Parameters    int       `json:"parameters"`
	BatchSize     int       `json:"batch_size"`
	LearningRate  float64   `json:"learning_rate"`
	Seed          int64     `json:"seed"`
	WeightsFile   string    `json:"weights_file"`

	// ParentVersion is the model whose weights training started from
	// (train --from); "" for a model trained from scratch.
	ParentVersion string `json:"parent_version"`
	// FeedbackImages is how many labelled stored images were trained on
	// (train --feedback), the held-out fifth excluded.
	FeedbackImages int `json:"feedback_images"`
	// FeedbackHeldOut is how many labelled images were held out and scored.
	FeedbackHeldOut int `json:"feedback_held_out"`
	// FeedbackAccuracy is the accuracy on those held-out images; null
	// when none were held out.
	FeedbackAccuracy *float64 `json:"feedback_accuracy"`
	// Augment tells whether each image got a random change per epoch.
	Augment bool `json:"augment"`
	// Robustness holds the accuracy on each robustness set (package
	// robust), read through the upload path; absent when not measured.
	Robustness *Robustness `json:"robustness,omitempty"`
	// Checkpoint is set on a model saved while its training run went on
	// (a first boot's early checkpoints); absent on a finished model.
	Checkpoint *Checkpoint `json:"checkpoint,omitempty"`

	// History is what each epoch of training measured, in order; empty
	// for models trained before it was recorded.
	History []EpochRecord `json:"history,omitempty"`
	// TestConfusion counts the test images by true digit (row) and
	// predicted digit (column); nil for models trained before it was
	// recorded.
	TestConfusion *Confusion `json:"test_confusion,omitempty"`
}

// Checkpoint says how far its training run was when a model was saved: a
// later model of the same run supersedes it.
type Checkpoint struct {
	Epoch  int `json:"epoch"`  // epochs done
	Epochs int `json:"epochs"` // epochs the run was set to
}

// Robustness is a model's accuracy on each robustness set: MNIST test
// digits turned 20 degrees, with strokes a pixel thicker or thinner, at
// 10x10, off-centre in a larger canvas, photographed dark on light, and the
// digits of the installed fonts. Each is sent as a PNG through the upload
// path. Fonts is null when no font was found.
type Robustness struct {
	Rotated   float64  `json:"rotated"`
	Thicker   float64  `json:"thicker"`
	Thinner   float64  `json:"thinner"`
	LowRes    float64  `json:"lowres"`
	OffCentre float64  `json:"offcentre"`
	Photo     float64  `json:"photo"`
	Fonts     *float64 `json:"fonts"`
}

// EpochRecord is one epoch of training, for the model's learning curves.
type EpochRecord struct {
	Epoch         int     `json:"epoch"`
	Loss          float64 `json:"loss"`           // mean training loss
	TrainAccuracy float64 `json:"train_accuracy"` // on the training batches, with dropout
	ValAccuracy   float64 `json:"val_accuracy"`   // on the held-out 10%
	Seconds       float64 `json:"seconds"`        // the training steps, evaluation excluded
}

// Confusion counts images by true class (row) and predicted class (column).
type Confusion [Classes][Classes]int
