package api

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// load returns the embedded document, loaded and validated by kin-openapi.
func load(tb testing.TB) *openapi3.T {
	tb.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		tb.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		tb.Fatalf("openapi.json is not a valid OpenAPI 3 document: %v", err)
	}
	return doc
}

func TestTheDocumentIsAValidOpenAPI3Document(t *testing.T) {
	doc := load(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi %q, want 3.0.3, which client generators read best", doc.OpenAPI)
	}
	if doc.Paths.Len() == 0 {
		t.Errorf("the document has no paths")
	}
}

// TestEveryOperationDocumentsItsErrors holds the document to what every
// route shares: the error shape, the 500 any route may give, and a HEAD
// beside every GET that answers the same statuses.
func TestEveryOperationDocumentsItsErrors(t *testing.T) {
	doc := load(t)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			t.Run(name+" documents its errors as {error}", func(t *testing.T) {
				if op.OperationID == "" || op.Summary == "" {
					t.Errorf("%s has no operationId or summary", name)
				}
				if op.Responses.Status(http.StatusInternalServerError) == nil {
					t.Errorf("%s does not document the 500", name)
				}
				// A route with a security requirement (its own or the
				// document's) refuses callers: 401 and 403 must be there.
				if op.Security == nil || len(*op.Security) > 0 {
					for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
						if op.Responses.Status(status) == nil {
							t.Errorf("%s needs a token but does not document %d", name, status)
						}
					}
				}
				for code, ref := range op.Responses.Map() {
					status, err := strconv.Atoi(code)
					if err != nil {
						t.Errorf("%s documents response %q: use explicit statuses", name, code)
						continue
					}
					if status < 400 {
						continue
					}
					mt := ref.Value.Content.Get("application/json")
					if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/Error" {
						t.Errorf("%s %d is not an application/json Error", name, status)
					}
				}
			})
		}
		if get := item.Get; get != nil {
			t.Run("HEAD "+path+" answers as its GET", func(t *testing.T) {
				if item.Head == nil {
					t.Fatalf("GET %s has no HEAD beside it", path)
				}
				codes := func(op *openapi3.Operation) []string {
					var out []string
					for c := range op.Responses.Map() {
						out = append(out, c)
					}
					slices.Sort(out)
					return out
				}
				if g, h := codes(get), codes(item.Head); !slices.Equal(g, h) {
					t.Errorf("GET %s answers %v, HEAD %v", path, g, h)
				}
			})
		}
	}
}
