package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// pinName is the file in a model folder that pins the served model. Its
// name does not end in .json, so it is never taken for a model's metadata.
const pinName = ".pin"

// pinHistory is how many pin changes the file remembers; it bounds how
// far back rollback can go.
const pinHistory = 50

// ErrNothingToRollBack is returned by Rollback when no promote is left to undo.
var ErrNothingToRollBack = errors.New("no promote to roll back")

// Pin is the content of a folder's pin file: the pinned version, if any,
// and the latest changes, oldest first.
type Pin struct {
	Version string     `json:"version"` // "" = none: the newest valid model is served
	History []PinEvent `json:"history"`
}

// PinEvent is one change of the pin.
type PinEvent struct {
	Action   string    `json:"action"`   // "promote", "rollback", "hold" or "unpin"
	Version  string    `json:"version"`  // pinned by the change; "" for unpin
	Previous string    `json:"previous"` // served before the change; "" when nothing was
	At       time.Time `json:"at"`
}

// ReadPin reads the pin file of dir; a folder without one is unpinned.
func ReadPin(dir string) (Pin, error) {
	var p Pin
	js, err := os.ReadFile(filepath.Join(dir, pinName))
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("read pin: %w", err)
	}
	if err := json.Unmarshal(js, &p); err != nil {
		return p, fmt.Errorf("read pin %s: %w", filepath.Join(dir, pinName), err)
	}
	return p, nil
}

// Promote pins version, which must be a valid model of dir, so that every
// server sharing the folder serves it.
func Promote(dir, version string) (Pin, error) {
	return pinValid(dir, "promote", version)
}

// Rollback pins the model that was served before the last promote not yet
// rolled back. Each call goes one promote further back.
func Rollback(dir string) (Pin, error) {
	p, err := ReadPin(dir)
	if err != nil {
		return p, err
	}
	undone := 0
	for i := len(p.History) - 1; i >= 0; i-- {
		switch ev := p.History[i]; ev.Action {
		case "rollback":
			undone++
		case "promote":
			if undone > 0 {
				undone--
				continue
			}
			if ev.Previous == "" {
				return p, fmt.Errorf("%w: no model was served before %s was promoted", ErrNothingToRollBack, ev.Version)
			}
			if _, _, err := LoadVersion(dir, ev.Previous); err != nil {
				return p, fmt.Errorf("roll back to %s: %w", ev.Previous, err)
			}
			return changePin(dir, "rollback", ev.Previous)
		}
	}
	return p, ErrNothingToRollBack
}

// Hold pins version, a valid model of dir, without making it a promote
// that rollback would undo: `app train --promote-if-better` holds the
// served model while it trains, so the new model, newest in the folder,
// is served only if it is promoted.
func Hold(dir, version string) (Pin, error) {
	return pinValid(dir, "hold", version)
}

// pinValid pins version by action ("promote" or "hold") once it has
// checked that version is a valid model of dir.
func pinValid(dir, action, version string) (Pin, error) {
	if _, _, err := LoadVersion(dir, version); err != nil {
		return Pin{}, fmt.Errorf("%s %s: %w", action, version, err)
	}
	return changePin(dir, action, version)
}

// Unpin removes the pin: the newest valid model is served again.
func Unpin(dir string) (Pin, error) {
	return changePin(dir, "unpin", "")
}

// changePin records action and pins version ("" unpins), noting which
// model was served before.
func changePin(dir, action, version string) (Pin, error) {
	p, err := ReadPin(dir)
	if err != nil {
		return p, err
	}
	var previous string
	if _, meta, err := Current(dir); err == nil {
		previous = meta.Version
	}
	p.Version = version
	p.History = append(p.History, PinEvent{Action: action, Version: version, Previous: previous, At: time.Now().UTC()})
	if len(p.History) > pinHistory {
		p.History = p.History[len(p.History)-pinHistory:]
	}
	js, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return p, err
	}
	if err := writeAtomic(filepath.Join(dir, pinName), append(js, '\n')); err != nil {
		return p, fmt.Errorf("write pin: %w", err)
	}
	return p, nil
}
