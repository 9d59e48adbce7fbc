package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ErrNoModel is returned by LoadLatest when the folder holds no valid model.
var ErrNoModel = errors.New("no valid model")

// LoadPredictor loads the model a server sharing dir serves (the pinned one
// when it loads, else the newest valid one) and returns a predictor for it,
// so that `app predict` and `app eval` judge the model users are answered
// by; the error wraps ErrNoModel when there is none. Models skipped on the
// way are logged to logger (nil: nowhere).
func LoadPredictor(dir string, logger *slog.Logger) (*Predictor, error) {
	w, meta, err := current(dir, logger)
	if err != nil {
		return nil, err
	}
	return NewPredictor(w, meta), nil
}

// LoadLatest loads the newest valid model in dir (by created_at), skipping
// and logging to logger (nil: nowhere) the ones that fail to load. The error wraps ErrNoModel when
// none loads.
func LoadLatest(dir string, logger *slog.Logger) (*Weights, Meta, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var skipped []string
	for _, c := range candidates(dir) {
		w, meta, err := Load(c.path)
		if err == nil {
			return w, meta, nil
		}
		logger.Warn("skipping model that does not load", "file", c.path, "error", err)
		skipped = append(skipped, err.Error())
	}
	if len(skipped) > 0 {
		return nil, Meta{}, fmt.Errorf("%w in %s (%s)", ErrNoModel, dir, strings.Join(skipped, "; "))
	}
	return nil, Meta{}, fmt.Errorf("%w in %s", ErrNoModel, dir)
}

// candidate is a metadata file found in a model folder.
type candidate struct {
	path    string
	version string
	t       time.Time
}

// candidates lists the metadata files of dir, newest first (by created_at,
// then name); unreadable ones come last.
func candidates(dir string) []candidate {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	var cands []candidate
	for _, p := range paths {
		c := candidate{path: p, version: strings.TrimSuffix(filepath.Base(p), ".json")}
		var m Meta
		if js, err := os.ReadFile(p); err == nil && json.Unmarshal(js, &m) == nil {
			c.t = m.CreatedAt
			if m.Version != "" {
				c.version = m.Version
			}
		}
		cands = append(cands, c)
	}
	sort.Slice(cands, func(i, j int) bool {
		if !cands[i].t.Equal(cands[j].t) {
			return cands[i].t.After(cands[j].t)
		}
		return cands[i].path > cands[j].path
	})
	return cands
}

// NewestVersion returns the version named by the newest metadata file in
// dir, without loading or checking its weights: a cheap test of whether a
// newer model may have arrived. It returns "" when there is none.
func NewestVersion(dir string) string {
	cands := candidates(dir)
	if len(cands) == 0 {
		return ""
	}
	return cands[0].version
}
