package serve

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/mnistserve/app/store/storetest"
)

// TestRequestMemoryStaysWithinAFewTimesItsBody posts 8 MB batches of long
// number literals (1.000...0, a valid pixel) and counts what the server
// allocates answering them: the body once, and for v2 its data once more,
// not the 9x a 48 MB batch took (426 MB). Allocation is counted, not the
// peak, so the bound holds whatever the collector does.
func TestRequestMemoryStaysWithinAFewTimesItsBody(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := New(Config{MaxBody: 64 << 20}, st, nil)
	t.Cleanup(s.Close)
	s.SetModel(&fakeModel{version: "v"})
	lit := "1." + strings.Repeat("0", 40)
	img := "[" + strings.TrimSuffix(strings.Repeat(lit+",", pixels), ",") + "]"
	imgs := strings.TrimSuffix(strings.Repeat(img+",", maxBatch), ",")
	for _, tc := range []struct {
		name, path, body string
	}{
		{"/predict/batch", "/predict/batch", `{"images":[` + imgs + `]}`},
		{"v2 infer", "/v2/models/mnist/infer", `{"inputs":[{"name":"image","datatype":"UINT8","shape":[256,784],"data":[` + imgs + `]}]}`},
	} {
		for _, chunked := range []bool{false, true} {
			name := tc.name + " with a Content-Length"
			if chunked {
				name = tc.name + " without a Content-Length"
			}
			t.Run(name, func(t *testing.T) {
				body := []byte(tc.body)
				var r io.Reader = bytes.NewReader(body)
				if chunked {
					r = io.MultiReader(r) // hides the length
				}
				req := httptest.NewRequest(http.MethodPost, tc.path, r)
				req.Header.Set("Content-Type", "application/json")
				if chunked {
					req.ContentLength = -1
				}
				rec := httptest.NewRecorder()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				s.ServeHTTP(rec, req)
				runtime.ReadMemStats(&after)
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d %.200s", rec.Code, rec.Body)
				}
				// Checked after the count, which serveHTTP's check would swell.
				if err := checkAnswer(t, req, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
					t.Errorf("the answer breaks the OpenAPI document: %v", err)
				}
				used := after.TotalAlloc - before.TotalAlloc
				if limit := 3 * uint64(len(body)); used > limit {
					t.Errorf("answering a %d MB body allocated %d MB, want at most 3x the body", len(body)>>20, used>>20)
				}
				t.Logf("a %d MB body: %.1fx its size allocated", len(body)>>20, float64(used)/float64(len(body)))
			})
		}
	}
}
