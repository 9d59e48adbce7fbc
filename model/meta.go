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
}
