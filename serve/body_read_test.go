package serve

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/mnistserve/app/store/storetest"
)

// cutReader yields its text and then fails as net/http's chunked reader
// does when a body stops before its last chunk.
type cutReader struct{ r io.Reader }

func (c *cutReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// TestABodyCutOffBeforeItsLastChunkIs400: a body of unknown length (chunked)
// that ends before its last chunk could not be read, and is answered so;
// before, it was read as if whole (a JSON error, or worse, a valid prefix
// taken for the request).
func TestABodyCutOffBeforeItsLastChunkIs400(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, &fakeModel{version: "fake-v1"})
	whole := string(mustJSON(t, map[string]any{"images": [][]int{flat(digitImage(3)), flat(digitImage(1))}}))
	for _, cut := range []int{len(whole) / 2, len(whole)} { // mid-image, and all of the JSON but not the last chunk
		req := httptest.NewRequest(http.MethodPost, "/predict/batch", &cutReader{strings.NewReader(whole[:cut])})
		req.ContentLength = -1
		req.Header.Set("Content-Type", "application/json")
		msg := errorOf(t, serveHTTP(t, s, req), http.StatusBadRequest)
		if !strings.Contains(msg, "could not read the body") {
			t.Errorf("a body cut after %d of %d bytes: %q, want that the body could not be read", cut, len(whole), msg)
		}
	}
	if n := count(t, st); n != 0 {
		t.Errorf("%d rows stored from cut bodies, want 0", n)
	}
	// Read whole, the same body is answered.
	req := httptest.NewRequest(http.MethodPost, "/predict/batch", io.NopCloser(strings.NewReader(whole)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	if rec := serveHTTP(t, s, req); rec.Code != http.StatusOK {
		t.Errorf("the whole body of unknown length: %d %s", rec.Code, rec.Body)
	}
}

// stallReader yields its text and then fails as a connection does whose
// read deadline (the server's ReadTimeout) passed.
type stallReader struct{ r io.Reader }

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF {
		return n, &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	}
	return n, err
}

// TestABodyThatStallsIs408: a body that stops arriving until the read
// deadline passes is 408 Request Timeout saying so, not a 400 for bad input.
func TestABodyThatStallsIs408(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, &fakeModel{version: "fake-v1"})
	body := string(mustJSON(t, map[string]any{"image": rows(digitImage(3))}))
	for _, length := range []int64{int64(len(body)), -1} { // with Content-Length, and chunked
		req := httptest.NewRequest(http.MethodPost, "/predict", &stallReader{strings.NewReader(body[:len(body)/2])})
		req.ContentLength = length
		req.Header.Set("Content-Type", "application/json")
		msg := errorOf(t, serveHTTP(t, s, req), http.StatusRequestTimeout)
		if !strings.Contains(msg, "did not arrive within") {
			t.Errorf("Content-Length %d: %q, want that the body did not arrive in time", length, msg)
		}
	}
}
