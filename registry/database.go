package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/store"
)

// leaseName names the first-boot training lease among the advisory locks.
const leaseName = "mnistserve: first-boot training in schema "

// Database is the store of models in the database of a store.Store: tables
// models (the version is the key) and model_pins (the pin's history).
// Replicas on any number of machines share it. On PostgreSQL a saved model
// or a moved pin is announced (LISTEN/NOTIFY) and the first-boot election
// is an advisory lock; on SQLite, for one machine, changes are polled and
// the election is a lock file beside the database file.
type Database struct {
	st     *store.Store
	logger *slog.Logger

	mu      sync.Mutex
	checked map[string]checked // version -> the verdict on its weights
}

// checked is the verdict on a model row's weights, valid while its
// checksum and length stay the same.
type checked struct {
	sha   string
	bytes int64
	err   error
}

// NewDatabase returns the model store of st, creating its tables. Warnings
// (a lost listener connection) go to logger; nil discards them.
func NewDatabase(ctx context.Context, st *store.Store, logger *slog.Logger) (*Database, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := st.MigrateModels(ctx); err != nil {
		return nil, err
	}
	return &Database{st: st, logger: logger, checked: make(map[string]checked)}, nil
}

func (d *Database) String() string { return "database (" + d.st.Driver() + ")" }

// Scan lists the stored models. A row's weights are read and checked the
// first time it is seen (and again only if its checksum or length
// changes); later scans read the metadata alone.
func (d *Database) Scan(ctx context.Context) ([]Entry, error) {
	heads, err := d.st.ModelHeads(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(heads))
	seen := make(map[string]bool, len(heads))
	for _, h := range heads {
		seen[h.Version] = true
		var meta model.Meta
		if err := json.Unmarshal(h.Meta, &meta); err != nil {
			out = append(out, Entry{Meta: model.Meta{Version: h.Version}, Err: fmt.Errorf("model %s: bad metadata: %v: %w", h.Version, err, model.ErrCorrupt)})
			continue
		}
		meta.Version = h.Version
		out = append(out, Entry{Meta: meta, Err: d.verdict(ctx, h)})
	}
	d.mu.Lock()
	for v := range d.checked {
		if !seen[v] {
			delete(d.checked, v)
		}
	}
	d.mu.Unlock()
	return out, nil
}

// verdict returns why the model of h does not load (nil when it does),
// loading it only when not checked before in this state.
func (d *Database) verdict(ctx context.Context, h store.ModelHead) error {
	d.mu.Lock()
	c, ok := d.checked[h.Version]
	d.mu.Unlock()
	if ok && c.sha == h.WeightsSHA256 && c.bytes == h.WeightsBytes {
		return c.err
	}
	var err error
	if h.WeightsBytes != int64(model.WeightsBytes()) {
		err = fmt.Errorf("model %s: %d bytes of weights, want %d: %w", h.Version, h.WeightsBytes, model.WeightsBytes(), model.ErrCorrupt)
	} else {
		_, _, err = d.Load(ctx, h.Version)
		if errors.Is(err, store.ErrUnavailable) || ctx.Err() != nil {
			return err // no verdict: try again next time
		}
	}
	d.mu.Lock()
	d.checked[h.Version] = checked{sha: h.WeightsSHA256, bytes: h.WeightsBytes, err: err}
	d.mu.Unlock()
	return err
}

// Load reads the row of version and checks its weights.
func (d *Database) Load(ctx context.Context, version string) (*model.Weights, model.Meta, error) {
	row, ok, err := d.st.Model(ctx, version)
	if err != nil {
		return nil, model.Meta{}, err
	}
	if !ok {
		return nil, model.Meta{}, fmt.Errorf("%w: version %q in the database", model.ErrUnknownVersion, version)
	}
	var meta model.Meta
	if err := json.Unmarshal(row.Meta, &meta); err != nil {
		return nil, meta, fmt.Errorf("model %s: bad metadata: %v: %w", version, err, model.ErrCorrupt)
	}
	meta.Version = row.Version
	if meta.WeightsSHA256 != row.WeightsSHA256 {
		return nil, meta, fmt.Errorf("model %s: the checksum in its metadata is not the row's: %w", version, model.ErrCorrupt)
	}
	w, err := model.DecodeWeights(row.Weights, row.WeightsSHA256)
	if err != nil {
		err = fmt.Errorf("model %s in the database: %w", version, err)
		if errors.Is(err, model.ErrCorrupt) {
			// A row changed in place after its check keeps its checksum
			// column and length, the state a verdict is kept for: without
			// this, scans would go on listing it as valid, and a server
			// would keep trying to serve it.
			d.mu.Lock()
			d.checked[version] = checked{sha: row.WeightsSHA256, bytes: int64(len(row.Weights)), err: err}
			d.mu.Unlock()
		}
		return nil, meta, err
	}
	return w, meta, nil
}

// Save inserts w as a new row. A fresh version is the creation time, with
// a suffix when another replica took it in the same millisecond.
func (d *Database) Save(ctx context.Context, w *model.Weights, meta model.Meta) (model.Meta, error) {
	data, err := model.Complete(w, &meta)
	if err != nil {
		return meta, err
	}
	fresh := meta.Version == ""
	for attempt := 1; ; attempt++ {
		if fresh {
			meta.Version = model.NewVersion(meta.CreatedAt, attempt)
		}
		meta.WeightsFile = meta.Version + ".weights" // the name it gets when exported to a folder
		js, err := json.Marshal(meta)
		if err != nil {
			return meta, err
		}
		err = d.st.SaveModel(ctx, &store.ModelRow{
			Version: meta.Version, CreatedAt: meta.CreatedAt, Meta: js,
			WeightsSHA256: meta.WeightsSHA256, Weights: data,
		})
		switch {
		case err == nil:
			return meta, nil
		case errors.Is(err, store.ErrVersionTaken) && fresh && attempt < 100:
			continue
		case errors.Is(err, store.ErrVersionTaken):
			return meta, fmt.Errorf("%w: %s in the database", model.ErrVersionTaken, meta.Version)
		default:
			return meta, err
		}
	}
}

// ReadPin reads the latest PinHistory changes; the newest names the pin.
func (d *Database) ReadPin(ctx context.Context) (Pin, error) {
	rows, err := d.st.PinEvents(ctx, PinHistory)
	if err != nil {
		return Pin{}, err
	}
	var p Pin
	for _, r := range rows {
		p = appendEvent(p, PinEvent{Action: r.Action, Version: r.Version, Previous: r.Previous, At: r.At.UTC()})
	}
	return p, nil
}

// AppendPin adds a row to model_pins.
func (d *Database) AppendPin(ctx context.Context, ev PinEvent) (Pin, error) {
	if err := d.st.AddPinEvent(ctx, &store.PinRow{Action: ev.Action, Version: ev.Version, Previous: ev.Previous, At: ev.At}); err != nil {
		return Pin{}, err
	}
	return d.ReadPin(ctx)
}

// Watch calls changed every interval and, on PostgreSQL, within moments
// of each announced change (and after the listener reconnects).
func (d *Database) Watch(ctx context.Context, every time.Duration, changed func()) error {
	if !d.st.CanListen() {
		return poll(ctx, every, changed)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.st.ListenModels(ctx, d.logger, changed)
	}()
	err := poll(ctx, every, changed)
	wg.Wait()
	return err
}

// Elect takes the advisory lock of the first-boot training on PostgreSQL,
// or the lock file beside the SQLite file.
func (d *Database) Elect(ctx context.Context) (Lease, error) {
	if !d.st.CanListen() {
		return LockFile(d.st.SQLitePath() + lockName)
	}
	l, err := d.st.TryLease(ctx, leaseName)
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("%w (advisory lock in the database)", ErrTrainingElsewhere)
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}
