package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/mnistserve/app/oip"
	"github.com/mnistserve/app/pipeline"
	"github.com/mnistserve/app/store"
)

// Error is a failure whose message is meant for the client: handlers return
// it for bad input and for states the client should know about.
type Error struct {
	Status  int    // HTTP status to answer with
	Message string // shown to the client as {"error": Message}
	Err     error  // cause, logged but never sent
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNotReady is returned while no model is loaded; the answer carries the
// server's status reason (for example that first-boot training is running).
var ErrNotReady = pipeline.ErrNotReady

// ErrBusy is returned when the admission queue is full.
var ErrBusy = pipeline.ErrBusy

// busyMessage is the error of every queue-full 503.
const busyMessage = "server busy: the queue is full, try again shortly"

// busyRetryAfter is the Retry-After of a queue-full 503, in seconds: the
// queue drains in well under a second, so a short wait is enough.
const busyRetryAfter = "1"

// errInvalid is wrapped by every error of the body decoders (the JSON of
// /predict, /predict/batch, the label and OIP v2 REST): plain errors that
// know nothing of HTTP, whose message says in words for the client what
// is wrong with the body. The error handler answers them 400.
var errInvalid = errors.New("invalid request body")

// invalidError is a body decoder's error.
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }

// Unwrap lets errors.Is find errInvalid.
func (e *invalidError) Unwrap() error { return errInvalid }

// invalid returns a body decoder's error with a formatted message.
func invalid(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// errorf returns an Error with a formatted client message.
func errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// badRequest is the common case: the input is malformed or invalid.
func badRequest(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, format, args...)
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error string `json:"error"`
}

// handleError is the one Echo HTTPErrorHandler: it turns any error a handler
// or middleware returns into {"error": "..."} and its status. Only faults the
// client cannot cause become 500, with a generic message; observe logs the
// detail.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, msg := s.classify(err, c)
	errorHeaders(err, status, c.Response().Header())
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if werr := c.JSON(status, errorBody{Error: msg}); werr != nil {
		s.logger.Warn("write error response", "request_id", requestID(c), "error", werr)
	}
}

// errorHeaders sets the headers an error answer carries besides its body.
func errorHeaders(err error, status int, h http.Header) {
	switch {
	case errors.Is(err, ErrBusy):
		h.Set("Retry-After", busyRetryAfter)
		// Closing the connection makes a client that ignores Retry-After
		// reconnect before it can ask again. Measured against keeping it
		// (as Triton and TF Serving do), 1,000 wrk connections in a tight
		// loop got 18,600 refusals a second on kept connections, and the
		// admitted requests' p99 went from 300 ms to 1 s with half the
		// 200s: every refusal's goroutine stands in the run queue before
		// the commits' and the answers' (BENCHMARKS.md, overload).
		h.Set(echo.HeaderConnection, "close")
	case status == http.StatusServiceUnavailable:
		// Training or a database restart takes a while; polling harder won't help.
		h.Set("Retry-After", "10")
	}
}

// rawErrorAnswer is the whole HTTP/1.1 answer handleError would send for
// err, for the door, which answers before the HTTP server sees a request:
// the same status, headers and body from the same source.
func (s *Server) rawErrorAnswer(err error) []byte {
	status, msg := s.classify(err, nil)
	body, _ := json.Marshal(errorBody{Error: msg})
	body = append(body, '\n')
	h := http.Header{}
	h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	h.Set(echo.HeaderXContentTypeOptions, "nosniff")
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(body)))
	errorHeaders(err, status, h)
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	_ = h.Write(&b)
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// StatusClientClosedRequest is the status logged and counted for a
// request whose client went away before its answer (nginx's 499).
const StatusClientClosedRequest = 499

// clientGone reports whether c's request was cancelled by its client:
// the connection closed (HTTP/1) or the stream reset (HTTP/2).
func clientGone(c echo.Context) bool {
	return c != nil && errors.Is(c.Request().Context().Err(), context.Canceled)
}

// classify maps an error to its status and the message the client sees.
func (s *Server) classify(err error, c echo.Context) (int, string) {
	var e *Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &e):
		return e.Status, e.Message
	case errors.Is(err, ErrBusy):
		return http.StatusServiceUnavailable, busyMessage
	case errors.Is(err, pipeline.ErrClosed):
		return http.StatusServiceUnavailable, "server shutting down, try again shortly"
	case errors.Is(err, errInvalid), errors.Is(err, oip.ErrInvalid):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, oip.ErrModelNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, ErrNotReady):
		return http.StatusServiceUnavailable, s.Status()
	case errors.Is(err, store.ErrUnavailable):
		return http.StatusServiceUnavailable, "database unavailable, try again later"
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, fmt.Sprintf("request timed out after %v, try again later", s.cfg.Timeout)
	case errors.Is(err, context.Canceled) && clientGone(c):
		// Nobody reads this answer, but the log and the metrics do: a
		// client that left is not a fault of ours, so it is not a 5xx
		// that the error-ratio alert would count.
		return StatusClientClosedRequest, "client closed the request"
	case errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, "request cancelled"
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "not found"
	case errors.As(err, &he):
		return echoStatus(he, c)
	default:
		return http.StatusInternalServerError, "internal server error"
	}
}

// echoStatus words the errors Echo itself raises (no route, wrong method).
func echoStatus(he *echo.HTTPError, c echo.Context) (int, string) {
	r := c.Request()
	switch he.Code {
	case http.StatusNotFound:
		return he.Code, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path)
	case http.StatusMethodNotAllowed:
		msg := fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path)
		if allow := c.Response().Header().Get(echo.HeaderAllow); allow != "" {
			msg += "; allowed: " + allow
		}
		return he.Code, msg
	}
	if he.Code >= http.StatusInternalServerError {
		return http.StatusInternalServerError, "internal server error"
	}
	if m, ok := he.Message.(string); ok && m != "" {
		return he.Code, strings.ToLower(m[:1]) + m[1:]
	}
	return he.Code, strings.ToLower(http.StatusText(he.Code))
}
