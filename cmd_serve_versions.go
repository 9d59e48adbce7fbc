package main

import (
	"context"
	"sync"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/registry"
	"github.com/mnistserve/app/serve"
)

// versionedKeeper is the model registry as the server sees it: the
// keeper's list and pin, and also any model it holds loaded by version, so
// that GET /predictions/:id/saliency.png asks the model that made the
// prediction, not the one served now.
type versionedKeeper struct {
	*registry.Keeper
	reg *registry.Registry

	mu   sync.Mutex
	past *model.Predictor // the last model loaded by version
}

// ModelVersion returns the registry's model of that version; the error
// wraps model.ErrUnknownVersion or model.ErrCorrupt when it has none that
// loads. One such model is kept loaded: the page asks for the map of one
// prediction at a time, usually of the same model.
func (v *versionedKeeper) ModelVersion(ctx context.Context, version string) (serve.Model, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.past != nil && v.past.Version() == version {
		return v.past, nil
	}
	w, meta, err := v.reg.Load(ctx, version)
	if err != nil {
		return nil, err
	}
	if v.past != nil {
		v.past.Close() // calls still running on it finish: see Predictor.Close
	}
	v.past = model.NewPredictor(w, meta)
	return v.past, nil
}

// Close closes the model kept for saliency maps and the keeper.
func (v *versionedKeeper) Close() {
	v.mu.Lock()
	if v.past != nil {
		v.past.Close()
	}
	v.mu.Unlock()
	v.Keeper.Close()
}
