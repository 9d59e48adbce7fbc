package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mnistserve/app/model"
)

// opTimeout bounds a keeper call that has no context of its own (the
// model routes of the server).
const opTimeout = 15 * time.Second

// Keeper owns the predictor a server serves: the served model of the
// registry (the pinned one when it loads, else the newest that loads). It
// swaps in another when the pin moves or a newer model appears, closing
// the one swapped out, and closes the last at Close. Its Models, Promote
// and Rollback are the model routes of the server.
type Keeper struct {
	reg    *Registry
	serve  func(*model.Predictor) // hands the predictor to the server
	status func(string)           // the server's 503 reason while none is served
	logger *slog.Logger

	// ElectEvery is how often a replica waiting for another's first-boot
	// training tries to take over the lease (the trainer may have died).
	ElectEvery time.Duration

	mu      sync.Mutex
	current *model.Predictor
}

// NewKeeper returns the keeper of reg, handing each predictor to serve and
// the reason nothing is served yet to status.
func NewKeeper(reg *Registry, serve func(*model.Predictor), status func(string), logger *slog.Logger) *Keeper {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Keeper{reg: reg, serve: serve, status: status, logger: logger, ElectEvery: 5 * time.Second}
}

// Loaded reports whether a model is being served.
func (k *Keeper) Loaded() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.current != nil
}

// Version is the version served, "" when none.
func (k *Keeper) Version() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.current == nil {
		return ""
	}
	return k.current.Version()
}

// Load serves the registry's served model when it is not served already.
// A model that does not load is logged once and passed over for the next
// newest, at run time as at start. The error wraps model.ErrNoModel when
// the store has no model that loads; the model served stays.
func (k *Keeper) Load(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	target, pinned, err := k.reg.Served(ctx)
	if err != nil {
		return err
	}
	if k.current != nil && k.current.Version() == target {
		return nil
	}
	w, meta, err := k.reg.Load(ctx, target)
	if err != nil {
		// Changed since the scan: the next scan judges it again.
		k.logger.Warn("model did not load; will try again", "version", target, "pinned", pinned, "error", err)
		if k.current != nil {
			return fmt.Errorf("model %s did not load: %w", target, err)
		}
		if w, meta, err = k.reg.Current(ctx); err != nil {
			return err
		}
	}
	if k.current != nil && k.current.Version() == meta.Version {
		return nil
	}
	k.swap(model.NewPredictor(w, meta), pinned && meta.Version == target)
	return nil
}

// swap serves p and closes the predictor it replaces: requests already
// running finish with the old one, which then frees its machines.
func (k *Keeper) swap(p *model.Predictor, pinned bool) {
	old := k.current
	k.current = p
	k.serve(p)
	if old != nil {
		old.Close()
	}
	m := p.Meta()
	k.logger.Info("serving model", "version", m.Version, "pinned", pinned, "test_accuracy", m.TestAccuracy, "store", k.reg.String())
}

// Watch follows the registry until ctx is done: a moved pin or a newer
// model is served within every (on PostgreSQL, within moments).
func (k *Keeper) Watch(ctx context.Context, every time.Duration) error {
	return k.reg.Watch(ctx, every, func() {
		lctx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		_ = k.Load(lctx) // a model that does not load is logged once and tried again next time
	})
}

// Models returns the models that load, newest first, and the pinned
// version ("" when none): the list of GET /models.
func (k *Keeper) Models() ([]model.Meta, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	ms, err := k.reg.List(ctx)
	if err != nil {
		return nil, "", err
	}
	pin, err := k.reg.ReadPin(ctx)
	return ms, pin.Version, err
}

// Promote pins version for every server of the store and serves it here
// at once.
func (k *Keeper) Promote(version string) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := k.reg.Promote(ctx, version); err != nil {
		return err
	}
	return k.Load(ctx)
}

// Rollback pins the model served before the last promote and serves it
// here at once, returning its version.
func (k *Keeper) Rollback() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	pin, err := k.reg.Rollback(ctx)
	if err != nil {
		return "", err
	}
	return pin.Version, k.Load(ctx)
}

// Close closes the served predictor. Requests must have finished.
func (k *Keeper) Close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.current != nil {
		k.current.Close()
		k.current = nil
	}
}

// FirstBoot gets a first model when the store has none. One replica of
// those sharing the store is elected (Elect) and runs train, which saves
// through the registry; the others wait, serving its model as soon as it
// appears (Watch loads it), and try every ElectEvery to take over should
// the trainer die. A cancelled ctx (shutdown) is not an error.
func (k *Keeper) FirstBoot(ctx context.Context, train func(ctx context.Context) error) error {
	waiting := false
	for {
		if k.Loaded() || k.Load(ctx) == nil {
			return nil
		}
		lease, err := k.reg.Elect(ctx)
		if err == nil {
			err = k.trainElected(ctx, train)
			if rerr := lease.Release(); rerr != nil {
				k.logger.Warn("release the training lease", "error", rerr)
			}
			if !errors.Is(err, errStoreUnread) {
				return err
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errStoreUnread) {
			k.logger.Warn("first boot: cannot tell whether the store has a model; trying again", "error", err)
		} else if !errors.Is(err, ErrTrainingElsewhere) {
			k.logger.Warn("first boot: cannot take the training lease; trying again", "error", err)
		} else if !waiting {
			waiting = true
			k.logger.Info("another process is training the first model; waiting for it", "detail", err)
			k.status("another server is training the first model; try again in a few minutes")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(k.ElectEvery):
		}
	}
}

// errStoreUnread is returned by trainElected when the store could not be
// read: it may hold a model, so nothing is trained and FirstBoot tries
// again.
var errStoreUnread = errors.New("the model store could not be read")

// trainElected runs train once elected, unless a model appeared while the
// lease was taken, and serves what it saved. It trains only when the store
// was read and holds no model that loads: not on a shutdown that came
// during the election, nor on a store that could not be read.
func (k *Keeper) trainElected(ctx context.Context, train func(ctx context.Context) error) error {
	if err := k.Load(ctx); err == nil || ctx.Err() != nil {
		return nil
	} else if !errors.Is(err, model.ErrNoModel) {
		return fmt.Errorf("%w: %w", errStoreUnread, err)
	}
	k.logger.Info("no model yet: training one before answering predictions", "store", k.reg.String())
	k.status("model is training (first boot, no model saved yet); try again in a few minutes")
	err := train(ctx)
	if ctx.Err() != nil {
		k.logger.Info("first-boot training stopped by shutdown")
		return nil
	}
	if err != nil {
		k.status(fmt.Sprintf("model training failed: %v", err))
		return fmt.Errorf("first-boot training: %w", err)
	}
	if err := k.Load(ctx); err != nil {
		k.status(fmt.Sprintf("could not load the trained model: %v", err))
		return fmt.Errorf("load the model just trained: %w", err)
	}
	return nil
}
