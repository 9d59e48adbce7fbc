package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/mnistserve/app/store"
)

// handlePutLabel serves PUT /predictions/:id/label {"label": 0..9}: records
// the true digit of a stored prediction and answers the updated record.
// Putting the same label again changes nothing.
func (s *Server) handlePutLabel(c echo.Context) error {
	body, err := s.readJSONBody(c)
	if err != nil {
		return err
	}
	label, err := labelFromJSON(body)
	if err != nil {
		return err
	}
	// Looked up first so that the id is checked (and its row is at hand for
	// any per-client check) before anything is written.
	p, err := s.lookup(c)
	if err != nil {
		return err
	}
	id := p.ID
	p, err = s.store.SetLabel(c.Request().Context(), id, label)
	if err != nil {
		return labelError(err, id, "label")
	}
	return c.JSON(http.StatusOK, detailOf(p))
}

// handleDeleteLabel serves DELETE /predictions/:id/label: removes the label
// of a stored prediction and answers the updated record.
func (s *Server) handleDeleteLabel(c echo.Context) error {
	p, err := s.lookup(c)
	if err != nil {
		return err
	}
	id := p.ID
	p, err = s.store.ClearLabel(c.Request().Context(), id)
	if err != nil {
		return labelError(err, id, "clear the label of")
	}
	return c.JSON(http.StatusOK, detailOf(p))
}

// labelError words a store failure of a label update; a row deleted since
// the lookup is a 404 like any unknown id.
func labelError(err error, id int64, verb string) error {
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "no prediction with id %d", id)
	}
	return fmt.Errorf("%s a prediction: %w", verb, err)
}

// labelFromJSON reads {"label": d} where d is an integer 0..9; 3.0, "3",
// null and anything else are refused.
func labelFromJSON(body []byte) (int, error) {
	const want = `body must be {"label": D} with D an integer 0..9`
	if err := checkNesting(body, labelDepth); err != nil {
		return 0, err
	}
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil || req == nil {
		return 0, invalid("%s", want)
	}
	raw, ok := req["label"]
	if !ok {
		return 0, invalid(`%s; "label" is missing`, want)
	}
	for k := range req {
		if k != "label" {
			return 0, invalid("%s; unknown field %q", want, k)
		}
	}
	d, err := strconv.Atoi(string(bytes.TrimSpace(raw)))
	if err != nil || d < 0 || d > 9 {
		return 0, invalid("%s, got %s", want, truncate(raw, 40))
	}
	return d, nil
}

// truncate shortens a client's value for an error message.
func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}
