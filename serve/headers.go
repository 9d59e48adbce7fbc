package serve

import (
	"net/http"
	"regexp"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// ContentSecurityPolicy is sent on every answer. The page loads its script
// and style from files of its own origin (no inline code); images may be
// blob: URLs because the page fetches stored images with its token and shows
// them from memory. frame-ancestors 'none' forbids framing (clickjacking).
const ContentSecurityPolicy = "default-src 'self'; img-src 'self' blob: data:; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// securityHeaders sets CSP, nosniff, frame denial and no-referrer on every
// answer, errors included. XSS protection stays unset: the old filter is
// gone from browsers and could be abused where it remains; the CSP does its
// job. X-Frame-Options is for browsers that predate frame-ancestors.
//
// It writes the header map directly with value slices built once, rather
// than through Echo's Secure middleware, whose Header().Set allocates a
// slice per header per request. Sharing is safe: net/http only reads them,
// Set replaces a slice and Add appends to a full one, which copies.
func securityHeaders() echo.MiddlewareFunc {
	fixed := []struct {
		name  string // canonical, as the map keys of http.Header are
		value []string
	}{
		{echo.HeaderXContentTypeOptions, []string{"nosniff"}},
		{echo.HeaderXFrameOptions, []string{"DENY"}},
		{echo.HeaderContentSecurityPolicy, []string{ContentSecurityPolicy}},
		{echo.HeaderReferrerPolicy, []string{"no-referrer"}},
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			for _, f := range fixed {
				h[f.name] = f.value[:1:1]
			}
			return next(c)
		}
	}
}

// cors allows the listed origins to call the API from their pages. Without
// origins there is no CORS at all: browsers then keep other sites' scripts
// from reading our answers.
func cors(origins []string) echo.MiddlewareFunc {
	return middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOrigins: origins,
		AllowMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete},
		AllowHeaders: []string{echo.HeaderAuthorization, echo.HeaderContentType, echo.HeaderXRequestID, "traceparent", "tracestate",
			headerIdempotencyKey, headerInferLength},
		ExposeHeaders: []string{echo.HeaderXRequestID, "Retry-After", HeaderSaliencyModel, HeaderSaliencyMethod, "traceresponse",
			headerReplayed, headerInferLength},
		MaxAge: 600,
	})
}

// requestIDRE is what a client-sent X-Request-ID must look like to be kept:
// short and plain, so it is safe to echo and to log.
var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// requestIDs keeps a client's X-Request-ID only when it is short and plain
// and otherwise makes a new one, so a client cannot put megabytes or control
// characters into our answers and logs.
func requestIDs() echo.MiddlewareFunc {
	rid := middleware.RequestID()
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		h := rid(next)
		return func(c echo.Context) error {
			r := c.Request()
			if v := r.Header.Get(echo.HeaderXRequestID); v != "" && !requestIDRE.MatchString(v) {
				r.Header.Del(echo.HeaderXRequestID)
			}
			return h(c)
		}
	}
}
