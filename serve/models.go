package serve

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/store"
)

// Catalog is the model folder behind the server: the models it holds, the
// pin, and moving the pin. The model keeper of `app serve` satisfies it.
type Catalog interface {
	// Models returns the valid models, newest first, and the pinned
	// version ("" when none).
	Models() ([]model.Meta, string, error)
	// Promote pins version and serves it; the error wraps
	// model.ErrUnknownVersion or model.ErrCorrupt for a version that
	// cannot be served.
	Promote(version string) error
	// Rollback pins the model served before the last promote and serves
	// it, returning its version; the error wraps model.ErrNothingToRollBack
	// when there is no promote to undo.
	Rollback() (string, error)
}

// SetCatalog gives the server the model folder that GET /models lists and
// the promote and rollback routes change. Until it is set they answer 503.
func (s *Server) SetCatalog(c Catalog) { s.catalog.Store(&catalogBox{c: c}) }

// catalogBox lets an interface value live in an atomic.Pointer.
type catalogBox struct{ c Catalog }

func (s *Server) currentCatalog() (Catalog, error) {
	b := s.catalog.Load()
	if b == nil {
		return nil, errorf(http.StatusServiceUnavailable, "no model folder is attached to this server")
	}
	return b.c, nil
}

// live is how a model fares on the predictions users labelled.
type live struct {
	Labelled int64    `json:"labelled"`
	Correct  int64    `json:"correct"`
	Accuracy *float64 `json:"accuracy"` // null while nothing is labelled
}

// modelItem is one model in GET /models: its metadata and its state here.
type modelItem struct {
	model.Meta
	Served bool `json:"served"`
	Pinned bool `json:"pinned"`
	Live   live `json:"live"`
}

// modelList is the answer of GET /models.
type modelList struct {
	Models []modelItem `json:"models"`
}

// handleModels serves GET /models: every valid model of the folder, newest
// first, with which one is served and pinned and its live accuracy.
func (s *Server) handleModels(c echo.Context) error {
	list, err := s.models(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list)
}

// models builds the answer of GET /models.
func (s *Server) models(c echo.Context) (modelList, error) {
	cat, err := s.currentCatalog()
	if err != nil {
		return modelList{}, err
	}
	metas, pinned, err := cat.Models()
	if err != nil {
		return modelList{}, fmt.Errorf("list models: %w", err)
	}
	stats, err := s.store.LiveAccuracy(c.Request().Context())
	if err != nil {
		return modelList{}, fmt.Errorf("live accuracy: %w", err)
	}
	served := ""
	if m, err := s.currentModel(); err == nil {
		served = m.Meta().Version
	}
	out := modelList{Models: make([]modelItem, 0, len(metas))}
	for _, m := range metas {
		st := stats[m.Version]
		out.Models = append(out.Models, modelItem{
			Meta:   m,
			Served: m.Version == served,
			Pinned: m.Version == pinned,
			Live:   live{Labelled: st.Labelled, Correct: st.Correct, Accuracy: st.Accuracy()},
		})
	}
	return out, nil
}

// pinAnswer is the answer of the promote and rollback routes.
type pinAnswer struct {
	Pinned string `json:"pinned"`
	Served string `json:"served"`
}

// handlePromote serves POST /models/:version/promote: pins that model for
// every server sharing the folder and serves it here at once.
// Model operations are for admins once access control is in front.
func (s *Server) handlePromote(c echo.Context) error {
	cat, err := s.currentCatalog()
	if err != nil {
		return err
	}
	v := c.Param("version")
	if err := cat.Promote(v); err != nil {
		return pinError(err, v)
	}
	return s.pinAnswer(c, v)
}

// handleRollback serves POST /models/rollback: pins the model served before
// the last promote and serves it here at once.
func (s *Server) handleRollback(c echo.Context) error {
	cat, err := s.currentCatalog()
	if err != nil {
		return err
	}
	v, err := cat.Rollback()
	if err != nil {
		return pinError(err, v)
	}
	return s.pinAnswer(c, v)
}

func (s *Server) pinAnswer(c echo.Context, pinned string) error {
	m, err := s.currentModel()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pinAnswer{Pinned: pinned, Served: m.Meta().Version})
}

// pinError words a failed promote or rollback.
func pinError(err error, version string) error {
	switch {
	case errors.Is(err, model.ErrUnknownVersion):
		return &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("no valid model with version %q", version), Err: err}
	case errors.Is(err, model.ErrNothingToRollBack):
		return &Error{Status: http.StatusConflict, Message: err.Error(), Err: err}
	case errors.Is(err, model.ErrCorrupt):
		return &Error{Status: http.StatusConflict, Message: fmt.Sprintf("model %s does not load: it is damaged or incomplete", version), Err: err}
	case errors.Is(err, store.ErrUnavailable):
		return err
	}
	return fmt.Errorf("move the pin: %w", err)
}
