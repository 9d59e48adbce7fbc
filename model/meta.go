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
	// Augment tells whether each image got a random affine per epoch.
	Augment bool `json:"augment"`
}
