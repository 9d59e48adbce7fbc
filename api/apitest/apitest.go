// Package apitest checks HTTP answers against the OpenAPI document of
// package api, for the tests of every package that serves the API. Only
// tests import it, so kin-openapi stays out of the binary.
package apitest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/mnistserve/app/api"
)

// Document is api.OpenAPI loaded and validated, with the router that finds
// the operation of a request in it.
type Document struct {
	Doc    *openapi3.T
	Router routers.Router
}

// load reads the document once for every test of a package.
var load = sync.OnceValues(func() (*Document, error) {
	// The document's non-JSON bodies are checked as opaque strings.
	for _, ct := range []string{"text/html", "text/javascript", "text/css", "image/png", "application/openmetrics-text"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
	}
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &Document{Doc: doc, Router: r}, nil
})

// Load returns the document, failing the test when it does not load.
func Load(tb testing.TB) *Document {
	tb.Helper()
	d, err := load()
	if err != nil {
		tb.Fatalf("api/openapi.json: %v", err)
	}
	return d
}

// Check validates the answer to req (status, header, body) against the
// document.
func Check(tb testing.TB, req *http.Request, status int, header http.Header, body []byte) error {
	tb.Helper()
	d := Load(tb)
	route, params, err := d.Router.FindRoute(req)
	switch {
	case errors.Is(err, routers.ErrPathNotFound), errors.Is(err, routers.ErrMethodNotAllowed):
		// No operation: an unknown path or method (404, 405, with the rate
		// limit first), or a CORS preflight, which has no body to check.
		if req.Method == http.MethodOptions && status < 300 {
			return nil
		}
		if !slices.Contains([]int{404, 405, 429}, status) {
			return errors.New("a request for no operation of the document must answer 404, 405 or 429")
		}
		return d.checkError(req, header, body)
	case err != nil:
		return err
	}
	if req.Method == http.MethodHead {
		// openapi3filter skips HEAD, so the status is checked here. The
		// body is not: net/http drops it on the wire, a recorder keeps it.
		if route.Operation.Responses.Status(status) == nil {
			return errors.New("status is not documented for HEAD")
		}
		return nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
		},
		Status:  status,
		Header:  header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// checkError checks an answer of no operation: a JSON Error (but for
// HEAD, whose body net/http drops).
func (d *Document) checkError(req *http.Request, header http.Header, body []byte) error {
	if req.Method == http.MethodHead {
		return nil
	}
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return errors.New("error answer is " + ct + ", want application/json")
	}
	v, err := openapi3filter.JSONBodyDecoder(bytes.NewReader(body), nil, nil, nil)
	if err != nil {
		return err
	}
	return d.Doc.Components.Schemas["Error"].Value.VisitJSON(v)
}

// Serve sends req to h and checks the answer against the document,
// reporting with Errorf, so that it may be called from the goroutines of
// concurrent tests.
func Serve(tb testing.TB, h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	tb.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	report(tb, req, rec.Code, rec.Header(), rec.Body.Bytes())
	return rec
}

// report fails the test when the answer breaks the document.
func report(tb testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	tb.Helper()
	if err := Check(tb, req, status, header, body); err != nil {
		tb.Errorf("%s %s answered %d, which the OpenAPI document does not allow: %v; body %.300s",
			req.Method, req.URL.RequestURI(), status, err, body)
	}
}

// Client returns an HTTP client for tests that talk to a real listener:
// every answer it receives is checked against the document like Serve's.
func Client(tb testing.TB, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: checkingTransport{tb: tb, next: http.DefaultTransport}}
}

// checkingTransport checks each answer against the document and hands it
// on with its body intact.
type checkingTransport struct {
	tb   testing.TB
	next http.RoundTripper
}

func (t checkingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	report(t.tb, req, resp.StatusCode, resp.Header, body)
	return resp, nil
}
