package serve

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mnistserve/app/imaging"
	"github.com/mnistserve/app/store"
)

// Page sizes of GET /predictions.
const (
	defaultLimit = 50
	maxLimit     = 500
)

// listItem is one prediction in a listing: no probabilities, no image.
type listItem struct {
	ID           int64     `json:"id"`
	CreatedAt    time.Time `json:"created_at"`
	Prediction   int       `json:"prediction"`
	Confidence   float32   `json:"confidence"`
	ModelVersion string    `json:"model_version"`
}

// listing is the answer of GET /predictions; NextBeforeID is null on the
// last page.
type listing struct {
	Predictions  []listItem `json:"predictions"`
	NextBeforeID *int64     `json:"next_before_id"`
}

// handlePredictions serves GET /predictions?limit=N&before_id=ID: stored
// predictions, newest first, a page at a time.
func (s *Server) handlePredictions(c echo.Context) error {
	limit := defaultLimit
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return badRequest("limit must be an integer 1..%d, got %q", maxLimit, v)
		}
		limit = n
	}
	var before int64
	if v := c.QueryParam("before_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return badRequest("before_id must be a positive integer id, got %q", v)
		}
		before = n
	}
	// One row more than asked tells whether another page follows.
	rows, err := s.store.List(c.Request().Context(), before, limit+1)
	if err != nil {
		return fmt.Errorf("list predictions: %w", err)
	}
	out := listing{Predictions: make([]listItem, 0, min(len(rows), limit))}
	if len(rows) > limit {
		rows = rows[:limit]
		next := rows[limit-1].ID
		out.NextBeforeID = &next
	}
	for _, r := range rows {
		out.Predictions = append(out.Predictions, listItem{
			ID:           r.ID,
			CreatedAt:    r.CreatedAt.UTC(),
			Prediction:   r.Prediction,
			Confidence:   r.Confidence,
			ModelVersion: r.ModelVersion,
		})
	}
	return c.JSON(http.StatusOK, out)
}

// detail is the answer of GET /predictions/:id.
type detail struct {
	ID            int64       `json:"id"`
	CreatedAt     time.Time   `json:"created_at"`
	Prediction    int         `json:"prediction"`
	Confidence    float32     `json:"confidence"`
	Probabilities [10]float32 `json:"probabilities"`
	ModelVersion  string      `json:"model_version"`
	ImageURL      string      `json:"image_url"`
}

// handlePrediction serves GET /predictions/:id: one stored prediction with
// its probabilities and the address of its image.
func (s *Server) handlePrediction(c echo.Context) error {
	p, err := s.lookup(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, detail{
		ID:            p.ID,
		CreatedAt:     p.CreatedAt.UTC(),
		Prediction:    p.Prediction,
		Confidence:    p.Confidence,
		Probabilities: p.Probabilities,
		ModelVersion:  p.ModelVersion,
		ImageURL:      fmt.Sprintf("/predictions/%d/image.png", p.ID),
	})
}

// handlePredictionImage serves GET /predictions/:id/image.png: the stored
// 28x28 input as a grayscale PNG.
func (s *Server) handlePredictionImage(c echo.Context) error {
	p, err := s.lookup(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := imaging.EncodePNG(&buf, p.Image); err != nil {
		return fmt.Errorf("encode image of prediction %d: %w", p.ID, err)
	}
	// A stored row never changes, so its image may be cached for good.
	c.Response().Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	return c.Blob(http.StatusOK, "image/png", buf.Bytes())
}

// lookup fetches the prediction named by the :id parameter.
func (s *Server) lookup(c echo.Context) (*store.Prediction, error) {
	v := c.Param("id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 {
		return nil, badRequest("prediction id must be a positive integer, got %q", v)
	}
	p, err := s.store.Get(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(http.StatusNotFound, "no prediction with id %d", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get prediction %d: %w", id, err)
	}
	return p, nil
}
