package serve

import (
	"bytes"
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
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/mnistserve/app/api"
	"github.com/mnistserve/app/api/apitest"
	"github.com/mnistserve/app/store/storetest"
)

// serveHTTP sends req through the whole server, error handler included, and
// checks the answer against the OpenAPI document: every route test goes
// through here (do and send call it), so an answer the document does not
// describe fails the test that received it. It reports with Errorf, so it
// may be called from the goroutines of concurrent tests.
func serveHTTP(tb testing.TB, s *Server, req *http.Request) *httptest.ResponseRecorder {
	tb.Helper()
	return apitest.Serve(tb, s, req)
}

// checkAnswer validates the answer to req (status, header, body) against
// the document.
func checkAnswer(tb testing.TB, req *http.Request, status int, header http.Header, body []byte) error {
	tb.Helper()
	return apitest.Check(tb, req, status, header, body)
}

// checkedClient returns an HTTP client for tests that talk to a real
// listener: every answer it receives is checked against the document.
func checkedClient(tb testing.TB, timeout time.Duration) *http.Client {
	return apitest.Client(tb, timeout)
}

// echoParam matches Echo's path parameters (:id) and the document's ({id}).
var echoParam = regexp.MustCompile(`:[^/]+|\{[^/}]+\}`)

// routeKey is "METHOD /path" with every parameter written {}: the table and
// the document may name a parameter differently.
func routeKey(method, path string) string {
	return method + " " + echoParam.ReplaceAllString(path, "{}")
}

func TestTheDocumentDescribesEveryRouteOfTheTable(t *testing.T) {
	d := apitest.Load(t)
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, nil)

	table := map[string]bool{}
	for _, r := range s.e.Routes() {
		table[routeKey(r.Method, r.Path)] = true
	}
	documented := map[string]bool{}
	for path, item := range d.Doc.Paths.Map() {
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
			if !checks && fn.Name.Name != "serveHTTP" {
				for _, pos := range serves {
					t.Errorf("%s: %s calls ServeHTTP without checking the answer; call serveHTTP(tb, s, req), which checks it against api/openapi.json",
						fset.Position(pos), fn.Name.Name)
				}
			}
		}
	}
}
