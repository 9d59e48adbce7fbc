package model

import (
	"errors"
	"fmt"
	"log/slog"
)

// ErrUnknownVersion is wrapped by errors about a version the folder does
// not hold as a valid model.
var ErrUnknownVersion = errors.New("no such model")

// List returns the metadata of every valid model in dir (weights present,
// checksum and shapes right), newest first. Invalid ones are left out.
func List(dir string) []Meta {
	var out []Meta
	for _, c := range candidates(dir) {
		if _, meta, err := Load(c.path); err == nil {
			out = append(out, meta)
		}
	}
	return out
}

// LoadVersion loads the model named version from dir, checking it as Load
// does; the error wraps ErrUnknownVersion when no metadata names it.
func LoadVersion(dir, version string) (*Weights, Meta, error) {
	for _, c := range candidates(dir) {
		if c.version == version {
			return Load(c.path)
		}
	}
	return nil, Meta{}, fmt.Errorf("%w: version %q in %s", ErrUnknownVersion, version, dir)
}

// Target returns the version a server sharing dir should serve: the pinned
// one, or else the one named by the newest metadata file (weights unread,
// so it may yet fail to load). It returns "" for an empty folder.
func Target(dir string) (version string, pinned bool, err error) {
	pin, err := ReadPin(dir)
	if err != nil {
		return "", false, err
	}
	if pin.Version != "" {
		return pin.Version, true, nil
	}
	return NewestVersion(dir), false, nil
}

// Current loads the model a server sharing dir serves once it has caught
// up: the pinned one when it loads, else the newest valid one. The error
// wraps ErrNoModel when there is none.
func Current(dir string) (*Weights, Meta, error) {
	return current(dir, nil)
}

// current is Current, logging to logger (nil: nowhere) the models skipped.
func current(dir string, logger *slog.Logger) (*Weights, Meta, error) {
	pin, err := ReadPin(dir)
	if err != nil {
		return nil, Meta{}, err
	}
	if pin.Version != "" {
		if w, meta, err := LoadVersion(dir, pin.Version); err == nil {
			return w, meta, nil
		}
	}
	return LoadLatest(dir, logger)
}
