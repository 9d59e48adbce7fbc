package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/mnistserve/app/store"
)

// Idempotency-Key (IETF httpapi draft "The Idempotency-Key HTTP Header
// Field") on POST /predict and /predict/batch, so that a client or a proxy
// may send a prediction again after a failure without storing it twice.
//
// The key is stored on the rows of the request (see store/idempotency.go),
// scoped to the client: the key's name when a token was sent, else the
// client's address. A request is first answered as if it had no key; only
// when its insert finds the key taken does it read the stored rows and
// answer with them instead (Idempotent-Replayed: true), or 422 when they
// were asked for with other images. The common case, a fresh key, thus
// costs no extra query. A second request with a key that this server is
// still answering gets 409 at once.

const (
	// headerIdempotencyKey carries the client's key.
	headerIdempotencyKey = "Idempotency-Key"
	// headerReplayed marks an answer that repeats a stored one.
	headerReplayed = "Idempotent-Replayed"
	// maxIdempotencyKey is the longest key accepted, in bytes.
	maxIdempotencyKey = 64
	// requestHashSize is how much of the SHA-256 of a keyed request is
	// stored to tell a repeat from another request under the same key.
	requestHashSize = 16
)

// idemKey is the Idempotency-Key of one request, claimed on this server
// until done.
type idemKey struct {
	key      string // as the client sent it
	route    string // the route's path: one key is for one route
	replayed bool   // the answer was read back from the stored rows
	// id is store.KeyHashArray of the client's scope and key; sum, once
	// mark has run, the SHA-256 of the route and the request's images,
	// stored cut to requestHashSize (request). The rows hold slices of
	// these arrays: the struct is allocated anyway.
	id     [store.KeyHashSize]byte
	sum    [sha256.Size]byte
	claims *inflight // the set that id is claimed in
}

// request is the stored digest of what was asked (set by mark).
func (k *idemKey) request() []byte { return k.sum[:requestHashSize] }

// inflight is the set of (scope, key) this server is answering now, by
// store.KeyHashArray.
type inflight struct {
	mu   sync.Mutex
	keys map[[store.KeyHashSize]byte]struct{}
}

// claim marks id in flight, or reports false when it is already.
func (f *inflight) claim(id [store.KeyHashSize]byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, busy := f.keys[id]; busy {
		return false
	}
	if f.keys == nil {
		f.keys = make(map[[store.KeyHashSize]byte]struct{})
	}
	f.keys[id] = struct{}{}
	return true
}

// release ends the claim on id.
func (f *inflight) release(id [store.KeyHashSize]byte) {
	f.mu.Lock()
	delete(f.keys, id)
	f.mu.Unlock()
}

// idempotencyKey reads the request's Idempotency-Key and claims it: nil
// when the request has none; 400 for a malformed key; 409 while another
// request with the same key and client is being answered here. The caller
// calls release once answered.
func (s *Server) idempotencyKey(c echo.Context) (*idemKey, error) {
	vals := c.Request().Header.Values(headerIdempotencyKey)
	if len(vals) == 0 {
		return nil, nil
	}
	if len(vals) > 1 {
		return nil, badRequest("send one %s header, not %d", headerIdempotencyKey, len(vals))
	}
	key, err := parseIdempotencyKey(vals[0])
	if err != nil {
		return nil, badRequest("%s: %v", headerIdempotencyKey, err)
	}
	scope := "addr:" + c.RealIP()
	if p := principalOf(c); p.valid {
		scope = "key:" + p.key.Name
	}
	k := &idemKey{key: key, route: c.Path(), id: store.KeyHashArray(scope, key), claims: &s.inflight}
	if !k.claims.claim(k.id) {
		return nil, errorf(http.StatusConflict, "a request with %s %q is still being answered; send it again once that one has its answer", headerIdempotencyKey, key)
	}
	return k, nil
}

// parseIdempotencyKey reads the header's value: the draft's Structured
// Field string ("..."), or the bare key that proxies such as nginx send.
// Either way the key is 1 to 64 printable ASCII characters.
func parseIdempotencyKey(v string) (string, error) {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		var b strings.Builder
		for i := 1; i < len(v)-1; i++ {
			ch := v[i]
			switch {
			case ch == '\\' && i+2 < len(v) && (v[i+1] == '"' || v[i+1] == '\\'):
				i++
				ch = v[i]
			case ch == '\\' || ch == '"':
				return "", errors.New(`a quoted key may hold \ and " only as \\ and \"`)
			}
			b.WriteByte(ch)
		}
		v = b.String()
	}
	switch {
	case v == "":
		return "", errors.New("the key is empty; want 1 to 64 printable characters")
	case len(v) > maxIdempotencyKey:
		return "", fmt.Errorf("the key is %d bytes long; want at most %d printable characters", len(v), maxIdempotencyKey)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return "", fmt.Errorf("the key holds byte 0x%02x at %d; want only printable ASCII characters", v[i], i)
		}
	}
	return v, nil
}

// mark stores k on rows, hashing their images with the route, so that
// the same images sent to /predict and, as a batch of one, to
// /predict/batch are different requests. The images, not the body, are
// hashed: a client that sends the same image again in a new multipart
// body (a new boundary) or with other whitespace asks the same thing.
func (k *idemKey) mark(rows []*store.Prediction) {
	if k == nil {
		return
	}
	h := sha256.New()
	h.Write([]byte(k.route))
	for _, r := range rows {
		h.Write([]byte{0})
		h.Write(r.Image)
	}
	h.Sum(k.sum[:0]) // into sum itself: it has exactly the room
	pos := positions[:]
	if len(rows) > len(positions) {
		pos = make([]int, len(rows))
		for i := range pos {
			pos[i] = i
		}
	}
	for i, r := range rows {
		r.IdemKeyHash, r.IdemRequest, r.IdemPosition = k.id[:], k.request(), &pos[i]
	}
}

// positions holds 0, 1, 2 ... for the rows' IdemPosition to point at, so
// that marking a request's rows allocates nothing for them. Nothing
// writes through those pointers (the store only reads them); the values
// are set once, here.
var positions = func() (p [64]int) {
	for i := range p {
		p[i] = i
	}
	return p
}()

// replay answers a request whose key was taken with the stored answer:
// 422 when the stored rows were asked for with other images.
func (s *Server) replay(ctx context.Context, k *idemKey, n int) ([]prediction, error) {
	rows, err := s.store.ReadKeyed(ctx, k.id[:])
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		// The rows went between our insert and this read (a retention
		// pass, a delete): the client may simply send it again.
		return nil, &Error{Status: http.StatusServiceUnavailable,
			Message: fmt.Sprintf("the request stored with %s %q was just deleted; send it again", headerIdempotencyKey, k.key)}
	}
	if !bytes.Equal(rows[0].IdemRequest, k.request()) {
		return nil, errorf(http.StatusUnprocessableEntity, "%s %q was used for another request (other images or route); use a new key for a new request", headerIdempotencyKey, k.key)
	}
	if len(rows) != n {
		// The same request, but some of its rows were deleted since: its
		// answer can no longer be given whole.
		return nil, errorf(http.StatusUnprocessableEntity, "%s %q answered this request, but only %d of its %d predictions are still stored (the others were deleted), so its answer cannot be replayed; use a new key to predict again",
			headerIdempotencyKey, k.key, len(rows), n)
	}
	out := make([]prediction, len(rows))
	for i, r := range rows {
		out[i] = prediction{
			Prediction:    r.Prediction,
			Confidence:    r.Confidence,
			Probabilities: r.Probabilities,
			ID:            r.ID,
			ModelVersion:  r.ModelVersion,
		}
	}
	k.replayed = true
	return out, nil
}

// done releases the claim; nil-safe.
func (k *idemKey) done() {
	if k != nil {
		k.claims.release(k.id)
	}
}

// header marks a replayed answer, before it is written; nil-safe.
func (k *idemKey) header(c echo.Context) {
	if k != nil && k.replayed {
		c.Response().Header().Set(headerReplayed, "true")
	}
}
