package serve

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestSecurityHeadersSurviveAHandlerChangingThem checks that the header
// values securityHeaders shares between answers are never changed through
// one answer: a handler that adds to and sets them leaves the next answer's
// headers as they were.
func TestSecurityHeadersSurviveAHandlerChangingThem(t *testing.T) {
	// The middleware is called straight, on a handler that no route of the
	// server has, so no answer here is one the OpenAPI document describes.
	e := echo.New()
	meddle := securityHeaders()(func(c echo.Context) error {
		h := c.Response().Header()
		h.Add(echo.HeaderReferrerPolicy, "origin")
		h.Set(echo.HeaderXFrameOptions, "SAMEORIGIN")
		return c.NoContent(http.StatusNoContent)
	})
	for i := range 3 {
		rec := httptest.NewRecorder()
		if err := meddle(e.NewContext(httptest.NewRequest(http.MethodGet, "/meddle", nil), rec)); err != nil {
			t.Fatal(err)
		}
		if got := rec.Header().Values(echo.HeaderReferrerPolicy); !slices.Equal(got, []string{"no-referrer", "origin"}) {
			t.Errorf("answer %d: Referrer-Policy %q, want no-referrer then the handler's origin", i, got)
		}
		if got := rec.Header().Values(echo.HeaderXFrameOptions); !slices.Equal(got, []string{"SAMEORIGIN"}) {
			t.Errorf("answer %d: X-Frame-Options %q, want the handler's SAMEORIGIN", i, got)
		}
		if got := rec.Header().Get(echo.HeaderContentSecurityPolicy); got != ContentSecurityPolicy {
			t.Errorf("answer %d: CSP %q, want %q", i, got, ContentSecurityPolicy)
		}
	}
}
