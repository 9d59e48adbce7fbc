package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.opentelemetry.io/otel/trace"
)

// middlewares returns the chain every request passes through, outermost
// first: the request id, then logging and metrics (which see the final
// status because they run the error handler themselves), then panic
// recovery, the request deadline, the security headers, CORS when
// configured, authentication (who is asking) and the rate limit. Whether
// the caller may use the route is decided per route (see routes).
func (s *Server) middlewares() []echo.MiddlewareFunc {
	mws := []echo.MiddlewareFunc{
		requestIDs(),
		s.observe,
		middleware.RecoverWithConfig(middleware.RecoverConfig{
			DisableErrorHandler: true, // observe hands the error to handleError
			LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
				s.logger.Error("panic in handler", "request_id", requestID(c),
					"route", s.routeLabel(c), "error", err, "stack", string(stack))
				return fmt.Errorf("panic: %w", err)
			},
		}),
		s.deadline,
		securityHeaders(),
	}
	if len(s.cfg.CORSOrigins) > 0 {
		mws = append(mws, cors(s.cfg.CORSOrigins))
	}
	return append(mws, s.authenticate, s.rateLimit)
}

// observe logs each request, counts it in the metrics and traces it. It
// runs the error handler itself so that the status it records is the one
// sent.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		span, traceID := s.startSpan(c) // nil and "" without tracing
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		elapsed := time.Since(start)
		status := c.Response().Status
		endSpan(span, status, err)
		var sc trace.SpanContext
		if span != nil {
			sc = span.SpanContext()
		}
		route := s.routeLabel(c)
		method := methodLabel(c.Request().Method)
		s.metrics.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		observeLatency(&s.metrics.exemplars.latency, s.metrics.latency.WithLabelValues(route), elapsed.Seconds(), sc)

		if errors.Is(err, ErrBusy) {
			s.shed.add() // counted and logged together, not a line each
			return nil
		}
		level := slog.LevelInfo
		switch {
		case status >= http.StatusInternalServerError && status != http.StatusServiceUnavailable:
			level = slog.LevelError // a fault of ours
		case status == http.StatusServiceUnavailable:
			level = slog.LevelWarn // not ready, or the database is away
		case s.routeHas(c, quiet) && status < http.StatusBadRequest:
			level = slog.LevelDebug // probes every few seconds would drown the log
		}
		attrs := []slog.Attr{
			slog.String("method", c.Request().Method),
			slog.String("route", route),
			slog.String("path", c.Request().URL.Path),
			slog.Int("status", status),
			slog.Duration("latency", elapsed),
			slog.String("request_id", requestID(c)),
		}
		if traceID != "" {
			attrs = append(attrs, slog.String("trace_id", traceID))
		}
		if err != nil {
			// The client saw a short message; the log keeps the whole chain.
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		s.logger.LogAttrs(c.Request().Context(), level, "request", attrs...)
		return nil
	}
}

// deadline bounds each request, so that a hung database or model answers
// 503 after Config.Timeout instead of holding the client forever.
func (s *Server) deadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.Timeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

// routeLabel is the route pattern of the request, or "unmatched" when no
// route matched, so that metrics never carry raw paths.
func (s *Server) routeLabel(c echo.Context) string {
	if p := c.Path(); s.known[p] {
		return p
	}
	return "unmatched"
}

// methodLabel bounds the method label to the standard methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// requestID is the X-Request-ID the RequestID middleware set on the answer.
func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}
