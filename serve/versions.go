package serve

import (
	"context"
	"io"
	"sync"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/pipeline"
)

// VersionLoader loads a model by version, for the v2 routes that name a
// version other than the served one and for the saliency map of a
// prediction made by another model than the one served now.
type VersionLoader interface {
	// LoadVersion returns the model of version; the error wraps
	// model.ErrUnknownVersion or model.ErrCorrupt when it cannot serve.
	LoadVersion(ctx context.Context, version string) (Model, error)
}

// SetVersions gives the server where to load models by version. Until it
// is set only the served version answers.
func (s *Server) SetVersions(v VersionLoader) { s.extra.setLoader(v) }

// maxExtraModels bounds the models held besides the served one: each holds
// its weights and a few machines' buffers, and a client naming version
// after version must not fill the memory.
const maxExtraModels = 2

// extraModels keeps the last few models loaded by version, least recently
// used first, closing one when it is pushed out. Requests still running on
// it finish: a Predictor closes only its idle buffers.
type extraModels struct {
	mu     sync.Mutex
	loader VersionLoader
	held   []Model // most recently used last
}

// setLoader replaces the loader, closing the models the old one loaded.
func (x *extraModels) setLoader(v VersionLoader) {
	x.close()
	x.mu.Lock()
	defer x.mu.Unlock()
	x.loader = v
}

// get returns the model of version, loading it when it is not held.
func (x *extraModels) get(ctx context.Context, version string) (Model, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for i, m := range x.held {
		if m.Meta().Version == version {
			x.held = append(append(x.held[:i:i], x.held[i+1:]...), m)
			return m, nil
		}
	}
	if x.loader == nil {
		return nil, errNoVersions{version}
	}
	m, err := x.loader.LoadVersion(ctx, version)
	if err != nil {
		return nil, err
	}
	if len(x.held) == maxExtraModels {
		if c, ok := x.held[0].(io.Closer); ok {
			_ = c.Close()
		}
		x.held = x.held[1:]
	}
	x.held = append(x.held, m)
	return m, nil
}

// close closes every model held.
func (x *extraModels) close() {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, m := range x.held {
		if c, ok := m.(io.Closer); ok {
			_ = c.Close()
		}
	}
	x.held = nil
}

// oipModels lets the protocol service find models through the server.
type oipModels struct{ s *Server }

func (o oipModels) Served() (pipeline.Model, error) { return o.s.currentModel() }

func (o oipModels) Version(ctx context.Context, version string) (pipeline.Model, error) {
	return o.s.extra.get(ctx, version)
}

// Versions lists the folder's valid versions, or only the served one
// when no folder is attached.
func (o oipModels) Versions() ([]string, error) {
	if cat, err := o.s.currentCatalog(); err == nil {
		metas, _, err := cat.Models()
		if err != nil {
			return nil, err
		}
		out := make([]string, len(metas))
		for i, m := range metas {
			out[i] = m.Version
		}
		return out, nil
	}
	m, err := o.s.currentModel()
	if err != nil {
		return nil, err
	}
	return []string{m.Meta().Version}, nil
}

// ready is the readiness of /readyz and the v2 health route: a model
// loaded and the database answering.
func (s *Server) ready(ctx context.Context) error {
	if _, err := s.currentModel(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReadyTimeout)
	defer cancel()
	return s.store.Ping(ctx)
}

// errNoVersions is the error of a version asked for while no loader is set.
type errNoVersions struct{ version string }

func (e errNoVersions) Error() string {
	return "no model folder to load version " + e.version + " from"
}

func (e errNoVersions) Unwrap() error { return model.ErrUnknownVersion }
