package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/saliency"
)

// Headers of a saliency answer.
const (
	// HeaderSaliencyModel names the model whose answers the map measures:
	// the prediction's own model_version when it still loads, else the
	// model served now.
	HeaderSaliencyModel = "Saliency-Model"
	// HeaderSaliencyMethod says how the map was made.
	HeaderSaliencyMethod = "Saliency-Method"
)

// saliencyMethod is the value of HeaderSaliencyMethod.
var saliencyMethod = fmt.Sprintf("occlusion; patch=%d; stride=%d; fill=0", saliency.Patch, saliency.Stride)

// handleSaliency serves GET /predictions/:id/saliency.png?scale=N: the
// stored input in grey with a heat map over it of how much each region
// made the model answer the stored digit, measured by occlusion (see
// package saliency). The picture is 28*N pixels a side (N 1..16, default
// 8); Saliency-Model names the model that was asked.
func (s *Server) handleSaliency(c echo.Context) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	scale := saliency.DefaultScale
	if v := c.QueryParam("scale"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < saliency.MinScale || n > saliency.MaxScale {
			return badRequest("scale must be an integer %d..%d, got %q", saliency.MinScale, saliency.MaxScale, v)
		}
		scale = n
	}
	p, err := s.lookup(c)
	if err != nil {
		return err
	}
	m, err := s.modelOf(c.Request().Context(), p.ModelVersion)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	sal, err := saliency.Occlusion(ctx, m.Predict, p.Image, p.Prediction)
	if errors.Is(err, saliency.ErrBadInput) {
		// A row the API could not have written (another program's).
		return errorf(http.StatusUnprocessableEntity, "prediction %d cannot be explained: %v", p.ID, err)
	}
	if err != nil {
		return fmt.Errorf("saliency of prediction %d: %w", p.ID, err)
	}
	var buf bytes.Buffer
	if err := saliency.EncodePNG(&buf, p.Image, sal, scale); err != nil {
		return fmt.Errorf("saliency of prediction %d: %w", p.ID, err)
	}
	used := m.Meta().Version
	h := c.Response().Header()
	h.Set(HeaderSaliencyModel, used)
	h.Set(HeaderSaliencyMethod, saliencyMethod)
	if used == p.ModelVersion {
		// The same model always draws the same map: the browser may keep
		// it as long as the image (never a shared cache: the row is the
		// client's).
		h.Set("Cache-Control", "private, max-age=86400")
	} else {
		h.Set("Cache-Control", "private, no-cache")
	}
	return c.Blob(http.StatusOK, "image/png", buf.Bytes())
}

// modelOf returns the model of the given version: the served one when it
// is that version, else the one the server loads by version (SetVersions,
// the same few held as for the v2 routes) when it can, else the served one
// (whose version the answer then names).
func (s *Server) modelOf(ctx context.Context, version string) (Model, error) {
	cur, curErr := s.currentModel()
	if curErr == nil && cur.Meta().Version == version {
		return cur, nil
	}
	m, err := s.extra.get(ctx, version)
	if err == nil {
		return m, nil
	}
	if !errors.Is(err, model.ErrUnknownVersion) && !errors.Is(err, model.ErrCorrupt) {
		s.logger.Warn("load the model of a prediction for its saliency; using the served one", "version", version, "error", err)
	}
	return cur, curErr
}
