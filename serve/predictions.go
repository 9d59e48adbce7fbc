package serve

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mnistserve/app/imaging"
	"github.com/mnistserve/app/model"
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
	Label        *int      `json:"label"`
	Client       *string   `json:"client,omitempty"`
}

// listing is the answer of GET /predictions; NextBeforeID is null on the
// last page.
type listing struct {
	Predictions  []listItem `json:"predictions"`
	NextBeforeID *int64     `json:"next_before_id"`
}

// handlePredictions serves GET /predictions?limit=N&before_id=ID
// &labelled=true|false&wrong=true|false: stored predictions, newest first,
// a page at a time.
func (s *Server) handlePredictions(c echo.Context) error {
	q, err := listQuery(c)
	if err != nil {
		return err
	}
	limit := q.Limit
	// One row more than asked tells whether another page follows.
	q.Limit++
	q.Client = s.visibleTo(c)
	rows, err := s.store.List(c.Request().Context(), q)
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
			Label:        r.Label,
			Client:       r.Client,
		})
	}
	return c.JSON(http.StatusOK, out)
}

// listQuery reads the query parameters of GET /predictions.
func listQuery(c echo.Context) (store.ListQuery, error) {
	if err := checkQuery(c); err != nil {
		return store.ListQuery{}, err
	}
	limit := defaultLimit
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return store.ListQuery{}, badRequest("limit must be an integer 1..%d, got %q", maxLimit, v)
		}
		limit = n
	}
	q := store.ListQuery{Limit: limit}
	if v := c.QueryParam("before_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return q, badRequest("before_id must be a positive integer id, got %q", v)
		}
		q.BeforeID = n
	}
	var err error
	if q.Labelled, err = boolParam(c, "labelled"); err != nil {
		return q, err
	}
	if q.Wrong, err = boolParam(c, "wrong"); err != nil {
		return q, err
	}
	return q, nil
}

// boolParam reads an optional true|false query parameter; nil when absent.
func boolParam(c echo.Context, name string) (*bool, error) {
	switch v := c.QueryParam(name); v {
	case "":
		return nil, nil
	case "true", "false":
		b := v == "true"
		return &b, nil
	default:
		return nil, badRequest("%s must be true or false, got %q", name, v)
	}
}

// detail is the answer of GET /predictions/:id.
type detail struct {
	ID            int64                  `json:"id"`
	CreatedAt     time.Time              `json:"created_at"`
	Prediction    int                    `json:"prediction"`
	Confidence    float32                `json:"confidence"`
	Probabilities [model.Classes]float32 `json:"probabilities"`
	ModelVersion  string                 `json:"model_version"`
	Label         *int                   `json:"label"`
	LabelledAt    *time.Time             `json:"labelled_at"`
	ImageURL      string                 `json:"image_url"`
	Client        *string                `json:"client,omitempty"`
}

// handlePrediction serves GET /predictions/:id: one stored prediction with
// its probabilities and the address of its image.
func (s *Server) handlePrediction(c echo.Context) error {
	p, err := s.lookup(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, detailOf(p))
}

// detailOf is the JSON form of one stored prediction.
func detailOf(p *store.Prediction) detail {
	return detail{
		ID:            p.ID,
		CreatedAt:     p.CreatedAt.UTC(),
		Prediction:    p.Prediction,
		Confidence:    p.Confidence,
		Probabilities: p.Probabilities,
		ModelVersion:  p.ModelVersion,
		Label:         p.Label,
		LabelledAt:    p.LabelledAt,
		ImageURL:      fmt.Sprintf("/predictions/%d/image.png", p.ID),
		Client:        p.Client,
	}
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
	// A stored image belongs to its client: no shared cache may keep it. It
	// never changes, so the browser itself may keep it for a while.
	c.Response().Header().Set("Cache-Control", "private, max-age=86400")
	return c.Blob(http.StatusOK, "image/png", buf.Bytes())
}

// lookup fetches the prediction named by the :id parameter. A row of
// another client is 404, exactly as a missing one, so ids reveal nothing.
func (s *Server) lookup(c echo.Context) (*store.Prediction, error) {
	id, err := idParam(c)
	if err != nil {
		return nil, err
	}
	p, err := s.store.Get(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.mayRead(c, p.Client)) {
		return nil, errorf(http.StatusNotFound, "no prediction with id %d", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get prediction %d: %w", id, err)
	}
	return p, nil
}

// idParam reads the :id parameter.
func idParam(c echo.Context) (int64, error) {
	v := c.Param("id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 {
		return 0, badRequest("prediction id must be a positive integer, got %q", v)
	}
	return id, nil
}

// handleDeletePrediction serves DELETE /predictions/:id: removes the row and
// its image for good (admin only); 204 when done.
func (s *Server) handleDeletePrediction(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	err = s.store.Delete(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "no prediction with id %d", id)
	}
	if err != nil {
		return fmt.Errorf("delete prediction %d: %w", id, err)
	}
	s.logger.Info("prediction deleted", "id", id, "by", principalOf(c).key.Name, "request_id", requestID(c))
	return c.NoContent(http.StatusNoContent)
}

// checkQuery refuses a query string that does not parse: url.Values drops
// the pairs it cannot read (a ';' between them, a bad %-escape), so a
// parameter sent that way would be silently ignored.
func checkQuery(c echo.Context) error {
	if raw := c.Request().URL.RawQuery; raw != "" {
		if _, err := url.ParseQuery(raw); err != nil {
			return badRequest("the query string does not parse (%v); separate parameters with & and escape them as URLs do", err)
		}
	}
	return nil
}
