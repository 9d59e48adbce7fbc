// Package registry decides which model is served and keeps the models:
// listing, loading (checksum checked), saving, pinning, rolling back,
// watching for changes and electing the one replica that trains on first
// boot. The rules live here once, over a Backend that stores the models:
// a folder (saved_models/, files and a .pin) or a database (tables models
// and model_pins, through package store).
package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/mnistserve/app/model"
)

// ErrTrainingElsewhere is wrapped by Elect's error while another process
// holds the first-boot training lease.
var ErrTrainingElsewhere = errors.New("another process is training the first model")

// Backend stores models and the pin. Folder and Database implement it; one
// test suite (suite_test.go) runs against each.
type Backend interface {
	// Scan returns every model stored, each with the reason it does not
	// load (nil when it does), in any order. A model unchanged since the
	// last Scan is not read again.
	Scan(ctx context.Context) ([]Entry, error)
	// Load reads version, its weights checked against their checksum and
	// the network's shapes; the error wraps model.ErrUnknownVersion when
	// no model has that version.
	Load(ctx context.Context, version string) (*model.Weights, model.Meta, error)
	// Save stores w as a new model and returns its completed metadata.
	// An empty meta.Version gets a fresh one; a version already stored
	// gives an error wrapping model.ErrVersionTaken.
	Save(ctx context.Context, w *model.Weights, meta model.Meta) (model.Meta, error)
	// ReadPin returns the pin and its latest changes.
	ReadPin(ctx context.Context) (Pin, error)
	// AppendPin records ev and makes ev.Version the pin ("" unpins).
	AppendPin(ctx context.Context, ev PinEvent) (Pin, error)
	// Watch calls changed whenever models or the pin may have changed,
	// at least every interval, until ctx is done.
	Watch(ctx context.Context, every time.Duration, changed func()) error
	// Elect takes the first-boot training lease, or returns an error
	// wrapping ErrTrainingElsewhere while another process holds it. A
	// holder that dies loses it.
	Elect(ctx context.Context) (Lease, error)
	// String names the store in messages: "folder saved_models".
	String() string
}

// Lease is the first-boot training lease; Release gives it up.
type Lease interface {
	Release() error
}

// Entry is a stored model: its metadata and why it does not load, if so.
type Entry struct {
	Meta model.Meta
	Err  error
}

// Registry applies the rules of which model is served to a Backend: the
// pinned model when it loads, else the newest that loads (by created_at,
// then version). It is safe for concurrent use.
type Registry struct {
	b      Backend
	logger *slog.Logger

	mu      sync.Mutex
	refused map[string]string // version -> why it does not load, logged once
}

// New returns the registry of b, logging refused models to logger (nil:
// nowhere) once per version and reason.
func New(b Backend, logger *slog.Logger) *Registry {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Registry{b: b, logger: logger, refused: make(map[string]string)}
}

// Backend returns the store behind r.
func (r *Registry) Backend() Backend { return r.b }

// String names the store.
func (r *Registry) String() string { return r.b.String() }

// scan returns the models that load, newest first, logging once each one
// that does not.
func (r *Registry) scan(ctx context.Context) ([]model.Meta, error) {
	entries, err := r.b.Scan(ctx)
	if err != nil {
		return nil, err
	}
	var valid []model.Meta
	r.mu.Lock()
	for _, e := range entries {
		if e.Err == nil {
			delete(r.refused, e.Meta.Version)
			valid = append(valid, e.Meta)
			continue
		}
		if r.refused[e.Meta.Version] != e.Err.Error() {
			r.refused[e.Meta.Version] = e.Err.Error()
			r.logger.Warn("model did not load; it is not served", "version", e.Meta.Version, "store", r.b.String(), "error", e.Err)
		}
	}
	r.mu.Unlock()
	sortNewest(valid)
	return valid, nil
}

// sortNewest orders ms newest first: by created_at, then version.
func sortNewest(ms []model.Meta) {
	sort.Slice(ms, func(i, j int) bool {
		if !ms[i].CreatedAt.Equal(ms[j].CreatedAt) {
			return ms[i].CreatedAt.After(ms[j].CreatedAt)
		}
		return ms[i].Version > ms[j].Version
	})
}

// List returns the models that load, newest first.
func (r *Registry) List(ctx context.Context) ([]model.Meta, error) {
	return r.scan(ctx)
}

// Served returns the version a server of this store serves once caught
// up, and whether it is pinned: the pinned model when it loads, else the
// newest that loads. The error wraps model.ErrNoModel when none loads.
func (r *Registry) Served(ctx context.Context) (version string, pinned bool, err error) {
	valid, err := r.scan(ctx)
	if err != nil {
		return "", false, err
	}
	pin, err := r.b.ReadPin(ctx)
	if err != nil {
		return "", false, err
	}
	return served(valid, pin, r.b)
}

// served picks the served model out of the valid ones, newest first.
func served(valid []model.Meta, pin Pin, b Backend) (string, bool, error) {
	for _, m := range valid {
		if m.Version == pin.Version {
			return m.Version, true, nil
		}
	}
	if len(valid) == 0 {
		return "", false, fmt.Errorf("%w in %s", model.ErrNoModel, b)
	}
	return valid[0].Version, false, nil
}

// Load loads version, checked.
func (r *Registry) Load(ctx context.Context, version string) (*model.Weights, model.Meta, error) {
	return r.b.Load(ctx, version)
}

// Current loads the served model (see Served). Should it fail to load
// after all (changed since the scan), the newest other one that loads is
// taken.
func (r *Registry) Current(ctx context.Context) (*model.Weights, model.Meta, error) {
	v, _, err := r.Served(ctx)
	if err != nil {
		return nil, model.Meta{}, err
	}
	w, meta, err := r.b.Load(ctx, v)
	if err == nil {
		return w, meta, nil
	}
	valid, serr := r.scan(ctx)
	if serr != nil {
		return nil, meta, serr
	}
	for _, m := range valid {
		if m.Version == v {
			continue
		}
		if w, meta, err := r.b.Load(ctx, m.Version); err == nil {
			return w, meta, nil
		}
	}
	return nil, meta, fmt.Errorf("%w in %s: %s did not load: %v", model.ErrNoModel, r.b, v, err)
}

// LoadOrCurrent loads version, or the served model when version is "" or
// "current".
func (r *Registry) LoadOrCurrent(ctx context.Context, version string) (*model.Weights, model.Meta, error) {
	if version != "" && version != "current" {
		return r.b.Load(ctx, version)
	}
	w, meta, err := r.Current(ctx)
	if err != nil {
		return nil, meta, fmt.Errorf("%w (train one with `app train`)", err)
	}
	return w, meta, nil
}

// Predictor returns a predictor of the served model, so that `app predict`
// and `app eval` judge the model users are answered by.
func (r *Registry) Predictor(ctx context.Context) (*model.Predictor, error) {
	w, meta, err := r.Current(ctx)
	if err != nil {
		return nil, err
	}
	return model.NewPredictor(w, meta), nil
}

// Save stores w as a new model (see Backend.Save). A training run may
// save several, each a version of its own (first-boot checkpoints).
func (r *Registry) Save(ctx context.Context, w *model.Weights, meta model.Meta) (model.Meta, error) {
	return r.b.Save(ctx, w, meta)
}

// Saver returns Save bound to ctx, the form train.Config.Save takes.
func (r *Registry) Saver(ctx context.Context) func(*model.Weights, model.Meta) (model.Meta, error) {
	return func(w *model.Weights, meta model.Meta) (model.Meta, error) { return r.b.Save(ctx, w, meta) }
}

// Watch calls changed whenever the models or the pin may have changed, at
// least every interval, until ctx is done.
func (r *Registry) Watch(ctx context.Context, every time.Duration, changed func()) error {
	return r.b.Watch(ctx, every, changed)
}

// Elect takes the first-boot training lease (see Backend.Elect).
func (r *Registry) Elect(ctx context.Context) (Lease, error) {
	return r.b.Elect(ctx)
}

// check returns why version cannot be served: it is unknown or does not
// load.
func (r *Registry) check(ctx context.Context, version string) error {
	entries, err := r.b.Scan(ctx)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Meta.Version == version {
			return e.Err
		}
	}
	return fmt.Errorf("%w: version %q in %s", model.ErrUnknownVersion, version, r.b)
}
