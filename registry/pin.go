package registry

import (
	"context"
	"fmt"
	"time"

	"github.com/mnistserve/app/model"
)

// PinHistory is how many pin changes a store remembers; it bounds how far
// back rollback can go.
const PinHistory = 50

// Pin is the pinned version, if any, and the latest changes, oldest first.
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

// ReadPin returns the pin and its history.
func (r *Registry) ReadPin(ctx context.Context) (Pin, error) {
	return r.b.ReadPin(ctx)
}

// Promote pins version, which must load, so that every server of the store
// serves it.
func (r *Registry) Promote(ctx context.Context, version string) (Pin, error) {
	return r.pinValid(ctx, "promote", version)
}

// Hold pins version, which must load, without making it a promote that
// rollback would undo: `app train --promote-if-better` holds the served
// model while it trains, so the new model, the newest, is served only if
// it is promoted.
func (r *Registry) Hold(ctx context.Context, version string) (Pin, error) {
	return r.pinValid(ctx, "hold", version)
}

// Unpin removes the pin: the newest valid model is served again.
func (r *Registry) Unpin(ctx context.Context) (Pin, error) {
	return r.changePin(ctx, "unpin", "")
}

// Rollback pins the model that was served before the last promote not yet
// rolled back. Each call goes one promote further back; the error wraps
// model.ErrNothingToRollBack when no promote is left to undo.
func (r *Registry) Rollback(ctx context.Context) (Pin, error) {
	p, err := r.b.ReadPin(ctx)
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
				return p, fmt.Errorf("%w: no model was served before %s was promoted", model.ErrNothingToRollBack, ev.Version)
			}
			if err := r.check(ctx, ev.Previous); err != nil {
				return p, fmt.Errorf("roll back to %s: %w", ev.Previous, err)
			}
			return r.changePin(ctx, "rollback", ev.Previous)
		}
	}
	return p, model.ErrNothingToRollBack
}

// pinValid pins version by action once it has checked that it loads.
func (r *Registry) pinValid(ctx context.Context, action, version string) (Pin, error) {
	if err := r.check(ctx, version); err != nil {
		return Pin{}, fmt.Errorf("%s %s: %w", action, version, err)
	}
	// The scan's verdict may be older than the model's bytes (a database
	// row changed in place keeps the state the verdict is kept for): load
	// it, checksum and all, before the pin moves, so that a promote
	// refused changes nothing.
	if _, _, err := r.b.Load(ctx, version); err != nil {
		return Pin{}, fmt.Errorf("%s %s: %w", action, version, err)
	}
	return r.changePin(ctx, action, version)
}

// changePin records action and pins version ("" unpins), noting which
// model was served before.
func (r *Registry) changePin(ctx context.Context, action, version string) (Pin, error) {
	previous, _, err := r.Served(ctx)
	if err != nil {
		previous = ""
	}
	return r.b.AppendPin(ctx, PinEvent{Action: action, Version: version, Previous: previous, At: time.Now().UTC()})
}

// appendEvent adds ev to p, keeping the last PinHistory events: the
// backends' shared bookkeeping.
func appendEvent(p Pin, ev PinEvent) Pin {
	p.Version = ev.Version
	p.History = append(p.History, ev)
	if len(p.History) > PinHistory {
		p.History = p.History[len(p.History)-PinHistory:]
	}
	return p
}
