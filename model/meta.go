package model

import (
	"errors"
	"time"
)

// Pixels is the number of bytes of one 28x28 input image.
const Pixels = 28 * 28

// Classes is the number of digits the network tells apart.
const Classes = 10

// ErrNoModel is returned by LoadLatest when the folder holds no valid model.
var ErrNoModel = errors.New("no valid model")

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
}

// LoadPredictor loads the newest valid model in dir and returns a predictor
// for it; the error wraps ErrNoModel when there is none.
func LoadPredictor(dir string) (*Predictor, error) {
	w, meta, err := LoadLatest(dir)
	if err != nil {
		return nil, err
	}
	return NewPredictor(w, meta), nil
}

// Best returns the most probable digit of probs; ties go to the smaller digit.
func Best(probs [Classes]float32) int {
	return argmax(probs[:])
}
