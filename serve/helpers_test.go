package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/store"
)

// fakeModel predicts the index of the brightest row, mod 10, with
// probability 0.91: deterministic, and easy to steer from a test image.
type fakeModel struct {
	version string
	delay   time.Duration // each Predict call waits this long (honouring ctx)
	panics  bool          // Predict panics, to test recovery
	calls   atomic.Int64  // Predict calls made
	images  atomic.Int64  // images passed to Predict
	largest atomic.Int64  // most images in one Predict call
	// checkpoint, when set, marks the model a checkpoint of a run that
	// goes on, at val accuracy 0.987.
	checkpoint *model.Checkpoint
}

func (m *fakeModel) Predict(ctx context.Context, images [][]byte) ([][10]float32, error) {
	m.calls.Add(1)
	m.images.Add(int64(len(images)))
	for n := int64(len(images)); ; {
		old := m.largest.Load()
		if n <= old || m.largest.CompareAndSwap(old, n) {
			break
		}
	}
	if m.panics {
		panic("fake model exploded")
	}
	if m.delay > 0 {
		select {
		case <-time.After(m.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	out := make([][10]float32, len(images))
	for i, img := range images {
		if len(img) != pixels {
			return nil, errors.New("fake model: image is not 784 bytes")
		}
		d := brightestRow(img) % 10
		for k := range out[i] {
			out[i][k] = 0.01
		}
		out[i][d] = 0.91
	}
	return out, nil
}

func (m *fakeModel) Meta() model.Meta {
	meta := model.Meta{Version: m.version, Architecture: "fake", TestAccuracy: 0.5, Checkpoint: m.checkpoint}
	if m.checkpoint != nil {
		meta.ValAccuracy = 0.987
	}
	return meta
}

// brightestRow returns the row with the largest pixel sum (the first on ties).
func brightestRow(img []byte) int {
	best, bestSum := 0, -1
	for r := range side {
		sum := 0
		for _, p := range img[r*side : (r+1)*side] {
			sum += int(p)
		}
		if sum > bestSum {
			best, bestSum = r, sum
		}
	}
	return best
}

// digitImage returns an image the fake model reads as digit d: row d is
// white and the rest a varied dim pattern, so read-backs compare real bytes.
func digitImage(d int) []byte {
	img := make([]byte, pixels)
	for i := range img {
		img[i] = byte((i*7 + d) % 50)
	}
	for c := range side {
		img[d*side+c] = 255
	}
	return img
}

// rows returns img as 28 rows of ints, the original clients' form.
func rows(img []byte) [][]int {
	out := make([][]int, side)
	for r := range side {
		out[r] = make([]int, side)
		for c := range side {
			out[r][c] = int(img[r*side+c])
		}
	}
	return out
}

// flat returns img as 784 ints.
func flat(img []byte) []int {
	out := make([]int, len(img))
	for i, p := range img {
		out[i] = int(p)
	}
	return out
}

// mustJSON marshals v or fails the test.
func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("marshal: %v", err)
	}
	return b
}

// newServer returns a server on st with m served (none when m is nil).
func newServer(tb testing.TB, st Store, m Model) *Server {
	tb.Helper()
	s := New(Config{}, st, nil)
	tb.Cleanup(s.Close)
	if m != nil {
		s.SetModel(m)
	}
	return s
}

// do sends one request through the whole server, error handler included.
func do(tb testing.TB, s *Server, method, target, contentType string, body []byte) *httptest.ResponseRecorder {
	tb.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return serveHTTP(tb, s, req)
}

// decode unmarshals the recorded body into v, failing on a status other than want.
func decode(tb testing.TB, rec *httptest.ResponseRecorder, want int, v any) {
	tb.Helper()
	if rec.Code != want {
		tb.Fatalf("status %d, want %d; body %s", rec.Code, want, rec.Body.String())
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		tb.Fatalf("decode body %q: %v", rec.Body.String(), err)
	}
}

// errorOf returns the "error" of a JSON error answer, failing unless the
// answer has status want, a JSON content type and a non-empty message.
func errorOf(tb testing.TB, rec *httptest.ResponseRecorder, want int) string {
	tb.Helper()
	var body struct {
		Error *string `json:"error"`
	}
	decode(tb, rec, want, &body)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" && ct != "application/json; charset=UTF-8" {
		tb.Errorf("Content-Type %q, want application/json", ct)
	}
	if body.Error == nil || *body.Error == "" {
		tb.Fatalf("no error message in %s", rec.Body.String())
	}
	return *body.Error
}

// count returns the number of stored predictions.
func count(tb testing.TB, st *store.Store) int64 {
	tb.Helper()
	n, err := st.Count(context.Background())
	if err != nil {
		tb.Fatalf("count: %v", err)
	}
	return n
}

// inkPNG draws a dark bar on a light 60x60 canvas, as a phone photo of a
// "1" might be, and returns it PNG-encoded.
func inkPNG() []byte {
	img := image.NewGray(image.Rect(0, 0, 60, 60))
	for y := range 60 {
		for x := range 60 {
			v := uint8(240)
			if x >= 26 && x < 34 && y >= 8 && y < 52 {
				v = 20
			}
			img.SetGray(x, y, color.Gray{Y: v})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err) // an in-memory gray image always encodes
	}
	return buf.Bytes()
}

// errStore is a Store whose every call fails with err; block makes each
// call wait for its context first, like a database that hangs.
type errStore struct {
	err   error
	block bool
}

func (f errStore) wait(ctx context.Context) error {
	if f.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return f.err
}

func (f errStore) Create(ctx context.Context, _ []*store.Prediction) error { return f.wait(ctx) }
func (f errStore) Get(ctx context.Context, _ int64) (*store.Prediction, error) {
	return nil, f.wait(ctx)
}
func (f errStore) List(ctx context.Context, _ store.ListQuery) ([]store.Prediction, error) {
	return nil, f.wait(ctx)
}
func (f errStore) SetLabel(ctx context.Context, _ int64, _ int) (*store.Prediction, error) {
	return nil, f.wait(ctx)
}
func (f errStore) ClearLabel(ctx context.Context, _ int64) (*store.Prediction, error) {
	return nil, f.wait(ctx)
}
func (f errStore) LiveAccuracy(ctx context.Context) (map[string]store.Live, error) {
	return nil, f.wait(ctx)
}
func (f errStore) Outcomes(ctx context.Context, _ string, _ int) ([]store.Outcome, error) {
	return nil, f.wait(ctx)
}
func (f errStore) Delete(ctx context.Context, _ int64) error { return f.wait(ctx) }
func (f errStore) DeleteBefore(ctx context.Context, _ time.Time, _ int) (int64, error) {
	return 0, f.wait(ctx)
}
func (f errStore) Ping(ctx context.Context) error { return f.wait(ctx) }
func (f errStore) ReadKeyed(ctx context.Context, _ []byte) ([]store.Prediction, error) {
	return nil, f.wait(ctx)
}

// assertHeaderHas fails unless header key of rec contains want.
func assertHeaderHas(tb testing.TB, rec *httptest.ResponseRecorder, key, want string) {
	tb.Helper()
	if got := rec.Header().Get(key); !bytes.Contains([]byte(got), []byte(want)) {
		tb.Errorf("header %s = %q, want it to contain %q", key, got, want)
	}
}

// v2Body is an OIP v2 inference body of img as scripts/load-oip.sh writes
// it: UINT8, shape [1,784], flat data, with json.dumps' spaces.
func v2Body(img []byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"inputs": [{"name": "image", "datatype": "UINT8", "shape": [1, 784], "data": [`)
	for i, p := range img {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, p)
	}
	b.WriteString(`]}]}`)
	return b.Bytes()
}
