package serve

import (
	"bytes"
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
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
	"github.com/mnistserve/app/store/storetest"
)

// document is the OpenAPI document loaded, validated and routed once for
// every test of the package.
var document = sync.OnceValues(func() (*documentRouter, error) {
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
	return &documentRouter{doc: doc, router: r}, nil
})

// documentRouter is the loaded document and the router that finds the
// operation of a request in it.
type documentRouter struct {
	doc    *openapi3.T
	router routers.Router
}

// loadDocument returns the document, failing the test when it does not load.
func loadDocument(tb testing.TB) *documentRouter {
	tb.Helper()
	d, err := document()
	if err != nil {
		tb.Fatalf("api/openapi.json: %v", err)
	}
	return d
}

// serveHTTP sends req through the whole server, error handler included, and
// checks the answer against the OpenAPI document: every route test goes
// through here (do and send call it), so an answer the document does not
// describe fails the test that received it. It reports with Errorf, so it
// may be called from the goroutines of concurrent tests.
func serveHTTP(tb testing.TB, s *Server, req *http.Request) *httptest.ResponseRecorder {
	tb.Helper()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if err := checkAnswer(tb, req, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
		tb.Errorf("%s %s answered %d, which the OpenAPI document does not allow: %v; body %.300s",
			req.Method, req.URL.RequestURI(), rec.Code, err, rec.Body.String())
	}
	return rec
}

// checkAnswer validates the answer to req (status, header, body) against
// the document.
func checkAnswer(tb testing.TB, req *http.Request, status int, header http.Header, body []byte) error {
	tb.Helper()
	d := loadDocument(tb)
	route, params, err := d.router.FindRoute(req)
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
		return checkError(d, req, header, body)
	case err != nil:
		return err
	}
	if req.Method == http.MethodHead {
		// openapi3filter skips HEAD, so the status is checked here. The
		// body is not: net/http drops it on the wire, the recorder keeps it.
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
func checkError(d *documentRouter, req *http.Request, header http.Header, body []byte) error {
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
	return d.doc.Components.Schemas["Error"].Value.VisitJSON(v)
}

// checkedClient returns an HTTP client for tests that talk to a real
// listener: every answer it receives is checked against the document like
// serveHTTP's.
func checkedClient(tb testing.TB, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: checkingTransport{tb: tb, next: http.DefaultTransport}}
}

// checkingTransport checks each answer against the document, reporting
// with Errorf, and hands it on with its body intact.
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
	if err := checkAnswer(t.tb, req, resp.StatusCode, resp.Header, body); err != nil {
		t.tb.Errorf("%s %s answered %d, which the OpenAPI document does not allow: %v; body %.300s",
			req.Method, req.URL.RequestURI(), resp.StatusCode, err, body)
	}
	return resp, nil
}

// echoParam matches Echo's path parameters (:id) and the document's ({id}).
var echoParam = regexp.MustCompile(`:[^/]+|\{[^/}]+\}`)

// routeKey is "METHOD /path" with every parameter written {}: the table and
// the document may name a parameter differently.
func routeKey(method, path string) string {
	return method + " " + echoParam.ReplaceAllString(path, "{}")
}

func TestTheDocumentDescribesEveryRouteOfTheTable(t *testing.T) {
	d := loadDocument(t)
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, nil)

	table := map[string]bool{}
	for _, r := range s.e.Routes() {
		table[routeKey(r.Method, r.Path)] = true
	}
	documented := map[string]bool{}
	for path, item := range d.doc.Paths.Map() {
		for method := range item.Operations() {
			documented[routeKey(method, path)] = true
		}
	}
	for _, r := range sortedKeys(table) {
		if !documented[r] {
			t.Errorf("route %s is missing from api/openapi.json: describe it", r)
		}
	}
	for _, r := range sortedKeys(documented) {
		if !table[r] {
			t.Errorf("api/openapi.json describes %s, which the server does not have", r)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestOpenAPIIsServedToAnyoneAsTheEmbeddedDocument(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, nil)
	rec := do(t, s, http.MethodGet, "/openapi.json", "", nil)
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), api.OpenAPI) {
		t.Fatalf("GET /openapi.json = %d, %d bytes; want 200 and the %d bytes of api.OpenAPI", rec.Code, rec.Body.Len(), len(api.OpenAPI))
	}
	assertHeaderHas(t, rec, "Content-Type", "application/json")
	if _, err := openapi3.NewLoader().LoadFromData(rec.Body.Bytes()); err != nil {
		t.Errorf("the served document does not load: %v", err)
	}
}

// TestTheValidatorRefusesAnswersTheDocumentDoesNotAllow keeps the hook in
// serveHTTP honest: answers that break the document must be caught.
func TestTheValidatorRefusesAnswersTheDocumentDoesNotAllow(t *testing.T) {
	for _, tc := range []struct {
		name, method, target string
		status               int
		header               map[string]string
		body                 string
	}{
		{"an undocumented status", "GET", "/healthz", 418, map[string]string{"Content-Type": "application/json"}, `{"error":"teapot"}`},
		{"a field the schema lacks", "GET", "/healthz", 200, map[string]string{"Content-Type": "application/json"}, `{"status":"ok","extra":1}`},
		{"a missing required field", "GET", "/readyz", 200, map[string]string{"Content-Type": "application/json"}, `{"status":"ready"}`},
		{"a digit out of range", "POST", "/predict", 200, map[string]string{"Content-Type": "application/json"},
			`{"prediction":11,"confidence":0.5,"probabilities":[0,0,0,0,0,0,0,0,0,0],"id":1,"model_version":"v"}`},
		{"an error without its message", "GET", "/predictions/1", 404, map[string]string{"Content-Type": "application/json"}, `{}`},
		{"a 429 without Retry-After", "GET", "/welcome", 429, map[string]string{"Content-Type": "application/json"}, `{"error":"slow down"}`},
		{"a 401 without WWW-Authenticate", "GET", "/predictions", 401, map[string]string{"Content-Type": "application/json"}, `{"error":"who?"}`},
		{"an unknown route answering 200", "GET", "/nowhere", 200, map[string]string{"Content-Type": "application/json"}, `{}`},
		{"an unknown route answering HTML", "GET", "/nowhere", 404, map[string]string{"Content-Type": "text/html"}, `<p>no</p>`},
		{"a HEAD answering an undocumented status", "HEAD", "/healthz", 404, nil, ``},
	} {
		t.Run(tc.name+" fails validation", func(t *testing.T) {
			rec := httptest.NewRecorder()
			for k, v := range tc.header {
				rec.Header().Set(k, v)
			}
			rec.WriteHeader(tc.status)
			_, _ = io.WriteString(rec, tc.body)
			if err := checkAnswer(t, httptest.NewRequest(tc.method, tc.target, nil), rec.Code, rec.Header(), rec.Body.Bytes()); err == nil {
				t.Errorf("%s %s answering %d %s passed validation", tc.method, tc.target, tc.status, tc.body)
			}
		})
	}
}

// TestRouteTestsCheckTheirAnswersAgainstTheDocument keeps every route test
// checking what it receives: a test function that calls the server's
// ServeHTTP must call checkAnswer too (serveHTTP does both; a test that
// measures allocation checks after measuring). Benchmarks may skip it,
// since checking would be part of what they measure.
func TestRouteTestsCheckTheirAnswersAgainstTheDocument(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil || strings.HasPrefix(fn.Name.Name, "Benchmark") {
				continue
			}
			var serves []token.Pos
			checks := false
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				switch fun := call.Fun.(type) {
				case *ast.SelectorExpr:
					if fun.Sel.Name == "ServeHTTP" {
						serves = append(serves, call.Pos())
					}
				case *ast.Ident:
					checks = checks || fun.Name == "checkAnswer"
				}
				return true
			})
			if !checks {
				for _, pos := range serves {
					t.Errorf("%s: %s calls ServeHTTP without checking the answer; call serveHTTP(tb, s, req), which checks it against api/openapi.json",
						fset.Position(pos), fn.Name.Name)
				}
			}
		}
	}
}
