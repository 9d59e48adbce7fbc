package serve

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mnistserve/app/keys"
	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// tokens are the callers of the access tests: one per column of the table.
type tokens struct {
	alice, bob, admin, revoked string
}

// keyring writes a keys file with predict keys alice and bob, admin key
// ops, and key carol that was revoked, and returns it loaded.
func keyring(tb testing.TB) (*keys.Keyring, tokens) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "keys.json")
	add := func(name string, role keys.Role) string {
		tb.Helper()
		tok, err := keys.Add(path, name, role)
		if err != nil {
			tb.Fatal(err)
		}
		return tok
	}
	tk := tokens{alice: add("alice", keys.RolePredict), bob: add("bob", keys.RolePredict),
		admin: add("ops", keys.RoleAdmin), revoked: add("carol", keys.RolePredict)}
	if err := keys.Revoke(path, "carol"); err != nil {
		tb.Fatal(err)
	}
	ring, err := keys.Open(path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return ring, tk
}

// send is do with an Authorization: Bearer header when token is not empty.
func send(tb testing.TB, s *Server, method, target, token, contentType string, body []byte) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(string(body)))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := serveHTTP(tb, s, req)
	return rec
}

// predictAs stores one prediction made with token and returns its id.
func predictAs(tb testing.TB, s *Server, token string) int64 {
	tb.Helper()
	var p prediction
	decode(tb, send(tb, s, http.MethodPost, "/predict", token, "application/json",
		mustJSON(tb, map[string]any{"image": rows(digitImage(3))})), 200, &p)
	return p.ID
}

// TestEveryRouteAnswersEachCallerAsItsRoleAllows is the acceptance table:
// every route x {no token, predict token that owns the row, another
// client's predict token, admin token, revoked token}, on both databases.
// A route registered without a row here fails the test, so a new route
// cannot slip in without its access being decided and checked.
func TestEveryRouteAnswersEachCallerAsItsRoleAllows(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		ring, tk := keyring(t)
		s := New(Config{Keys: ring}, st, nil)
		s.SetModel(&fakeModel{version: "v1"})
		s.SetCatalog(&fakeCatalog{srv: s, versions: []string{"v2", "v1"}})
		own := predictAs(t, s, tk.alice)    // alice's row, read by everyone below
		victim := predictAs(t, s, tk.alice) // alice's row the admin deletes
		one := mustJSON(t, map[string]any{"image": rows(digitImage(5))})
		batch := mustJSON(t, map[string]any{"images": [][][]int{rows(digitImage(1))}})
		v2 := mustJSON(t, map[string]any{"inputs": []any{map[string]any{
			"name": "image", "datatype": "UINT8", "shape": []int{1, 28, 28}, "data": rows(digitImage(4))}}})

		type cols struct{ none, owner, other, admin, revoked int }
		open := cols{200, 200, 200, 200, 200}
		predicting := cols{401, 200, 200, 200, 401}
		table := []struct {
			method, path, target string
			ctype                string
			body                 []byte
			want                 cols
		}{
			{"GET", "/", "/", "", nil, open},
			{"GET", "/app.js", "/app.js", "", nil, open},
			{"GET", "/charts.js", "/charts.js", "", nil, open},
			{"GET", "/style.css", "/style.css", "", nil, open},
			{"GET", "/welcome", "/welcome", "", nil, open},
			{"GET", "/openapi.json", "/openapi.json", "", nil, open},
			{"GET", "/healthz", "/healthz", "", nil, open},
			{"GET", "/readyz", "/readyz", "", nil, open},
			{"POST", "/predict", "/predict", "application/json", one, predicting},
			{"POST", "/predict/batch", "/predict/batch", "application/json", batch, predicting},
			{"GET", "/model", "/model", "", nil, predicting},
			{"GET", "/predictions", "/predictions", "", nil, predicting},
			{"GET", "/predictions/:id", fmt.Sprintf("/predictions/%d", own), "", nil, cols{401, 200, 404, 200, 401}},
			{"GET", "/predictions/:id/image.png", fmt.Sprintf("/predictions/%d/image.png", own), "", nil, cols{401, 200, 404, 200, 401}},
			{"GET", "/predictions/:id/saliency.png", fmt.Sprintf("/predictions/%d/saliency.png", own), "", nil, cols{401, 200, 404, 200, 401}},
			{"DELETE", "/predictions/:id", fmt.Sprintf("/predictions/%d", victim), "", nil, cols{401, 403, 403, 204, 401}},
			{"PUT", "/predictions/:id/label", fmt.Sprintf("/predictions/%d/label", own), "application/json", []byte(`{"label": 3}`), cols{401, 200, 404, 200, 401}},
			{"DELETE", "/predictions/:id/label", fmt.Sprintf("/predictions/%d/label", own), "", nil, cols{401, 200, 404, 200, 401}},
			{"GET", "/metrics", "/metrics", "", nil, cols{401, 403, 403, 200, 401}},
			{"GET", "/models", "/models", "", nil, cols{401, 403, 403, 200, 401}}, // live accuracy draws on every client's labels
			{"POST", "/models/:version/promote", "/models/v2/promote", "", nil, cols{401, 403, 403, 200, 401}},
			{"GET", "/models/:version/live", "/models/v1/live", "", nil, cols{401, 403, 403, 200, 401}}, // counts every client's labels
			{"POST", "/models/rollback", "/models/rollback", "", nil, cols{401, 403, 403, 200, 401}},    // undoes the admin's promote
			{"GET", "/v2/health/live", "/v2/health/live", "", nil, open},
			{"GET", "/v2/health/ready", "/v2/health/ready", "", nil, open},
			{"GET", "/v2", "/v2", "", nil, predicting},
			{"GET", "/v2/models/:model", "/v2/models/mnist", "", nil, predicting},
			{"GET", "/v2/models/:model/versions/:version", "/v2/models/mnist/versions/v1", "", nil, predicting},
			{"GET", "/v2/models/:model/ready", "/v2/models/mnist/ready", "", nil, open},
			{"GET", "/v2/models/:model/versions/:version/ready", "/v2/models/mnist/versions/v1/ready", "", nil, open},
			{"POST", "/v2/models/:model/infer", "/v2/models/mnist/infer", "application/json", v2, predicting},
			{"POST", "/v2/models/:model/versions/:version/infer", "/v2/models/mnist/versions/v1/infer", "application/json", v2, predicting},
		}

		covered := map[string]bool{}
		for _, r := range table {
			covered[r.method+" "+r.path] = true
		}
		for _, r := range s.e.Routes() {
			method := r.Method
			if method == http.MethodHead {
				method = http.MethodGet // HEAD is checked beside its GET below
			}
			if !covered[method+" "+r.Path] {
				t.Errorf("route %s %s has no row in this table: decide who may call it", r.Method, r.Path)
			}
		}

		for _, r := range table {
			callers := []struct {
				name, token string
				want        int
			}{
				{"no token", "", r.want.none},
				{"the owner's predict token", tk.alice, r.want.owner},
				{"another client's predict token", tk.bob, r.want.other},
				{"a revoked token", tk.revoked, r.want.revoked},
				{"the admin token", tk.admin, r.want.admin}, // last: it deletes
			}
			for _, c := range callers {
				rec := send(t, s, r.method, r.target, c.token, r.ctype, r.body)
				if rec.Code != c.want {
					t.Errorf("%s %s with %s: status %d, want %d; body %.200s", r.method, r.target, c.name, rec.Code, c.want, rec.Body.String())
					continue
				}
				if r.method == http.MethodGet {
					if head := send(t, s, http.MethodHead, r.target, c.token, "", nil); head.Code != c.want {
						t.Errorf("HEAD %s with %s: status %d, want %d as for GET", r.target, c.name, head.Code, c.want)
					}
				}
				switch rec.Code {
				case 401:
					errorOf(t, rec, 401)
					if h := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
						t.Errorf("%s %s with %s: WWW-Authenticate %q, want Bearer", r.method, r.target, c.name, h)
					}
				case 403, 404:
					errorOf(t, rec, rec.Code)
				}
			}
		}
		if _, err := st.Get(context.Background(), victim); err == nil {
			t.Errorf("row %d survived the admin's DELETE", victim)
		}
	})
}

func TestPredictClientsSeeOnlyTheirOwnRows(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		ring, tk := keyring(t)
		s := New(Config{Keys: ring}, st, nil)
		s.SetModel(&fakeModel{version: "v1"})
		a1, b1, a2 := predictAs(t, s, tk.alice), predictAs(t, s, tk.bob), predictAs(t, s, tk.alice)

		row, err := st.Get(context.Background(), b1)
		if err != nil || row.Client == nil || *row.Client != "bob" {
			t.Fatalf("stored row %d has client %v (%v), want bob", b1, row, err)
		}
		for _, tc := range []struct {
			who, token string
			want       []int64
		}{
			{"alice", tk.alice, []int64{a2, a1}},
			{"bob", tk.bob, []int64{b1}},
			{"the admin", tk.admin, []int64{a2, b1, a1}},
		} {
			var l listing
			decode(t, send(t, s, "GET", "/predictions", tc.token, "", nil), 200, &l)
			var ids []int64
			for _, p := range l.Predictions {
				ids = append(ids, p.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("%s lists %v, want %v", tc.who, ids, tc.want)
			}
		}
		// Paging reveals nothing either: bob's page after alice's rows is empty of them.
		var l listing
		decode(t, send(t, s, "GET", fmt.Sprintf("/predictions?limit=1&before_id=%d", a2), tk.bob, "", nil), 200, &l)
		if len(l.Predictions) != 1 || l.Predictions[0].ID != b1 {
			t.Errorf("bob's page before %d: %+v, want only his row %d", a2, l.Predictions, b1)
		}
	})
}

func TestOpenPredictLetsAnyonePredictButReadNothing(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	ring, tk := keyring(t)
	s := New(Config{Keys: ring, OpenPredict: true}, st, nil)
	s.SetModel(&fakeModel{version: "v1"})
	anon := predictAs(t, s, "")
	row, err := st.Get(context.Background(), anon)
	if err != nil || row.Client != nil {
		t.Fatalf("anonymous row %d: client %v (%v), want none", anon, row, err)
	}
	for _, tc := range []struct {
		method, target, token string
		want                  int
	}{
		{"GET", "/model", "", 200},
		{"GET", "/predictions", "", 401},
		{"GET", fmt.Sprintf("/predictions/%d", anon), "", 401},
		{"GET", fmt.Sprintf("/predictions/%d/image.png", anon), "", 401},
		{"GET", fmt.Sprintf("/predictions/%d/saliency.png", anon), "", 401},
		{"GET", "/metrics", "", 401},
		{"POST", "/predict", tk.revoked, 401}, // a bad token is not taken for no token
		{"GET", fmt.Sprintf("/predictions/%d", anon), tk.alice, 404},
		{"GET", fmt.Sprintf("/predictions/%d", anon), tk.admin, 200},
	} {
		if rec := send(t, s, tc.method, tc.target, tc.token, "application/json", nil); rec.Code != tc.want {
			t.Errorf("%s %s: status %d, want %d; %s", tc.method, tc.target, rec.Code, tc.want, rec.Body.String())
		}
	}
	var w welcome
	decode(t, send(t, s, "GET", "/welcome", "", "", nil), 200, &w)
	if w.Auth != "open-predict" {
		t.Errorf("/welcome auth %q, want open-predict", w.Auth)
	}
}

func TestWithoutKeysEverythingIsOpenAndStoredWithoutClient(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, &fakeModel{version: "v1"})
	id := predictAs(t, s, "")
	for _, target := range []string{"/predictions", fmt.Sprintf("/predictions/%d", id), "/metrics"} {
		if rec := send(t, s, "GET", target, "", "", nil); rec.Code != 200 {
			t.Errorf("GET %s without keys: %d, want 200", target, rec.Code)
		}
	}
	var w welcome
	decode(t, send(t, s, "GET", "/welcome", "", "", nil), 200, &w)
	if w.Auth != "none" {
		t.Errorf("/welcome auth %q, want none", w.Auth)
	}
}

func TestTokensNeverReachTheLog(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	ring, tk := keyring(t)
	var logs strings.Builder
	s := New(Config{Keys: ring}, st, slogTo(&logs))
	s.SetModel(&fakeModel{version: "v1"})
	predictAs(t, s, tk.alice)
	send(t, s, "GET", "/metrics", tk.alice, "", nil)     // 403
	send(t, s, "GET", "/metrics", tk.revoked, "", nil)   // 401
	send(t, s, "GET", "/predictions", tk.admin, "", nil) // 200
	for _, tok := range []string{tk.alice, tk.revoked, tk.admin} {
		if strings.Contains(logs.String(), tok) || strings.Contains(logs.String(), tok[len(tok)-12:]) {
			t.Fatalf("a token is in the log:\n%s", logs.String())
		}
	}
	if !strings.Contains(logs.String(), "status=403") {
		t.Errorf("the log lacks the 403:\n%s", logs.String())
	}
}

func TestMalformedAuthorizationIs401(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	ring, tk := keyring(t)
	s := New(Config{Keys: ring}, st, nil)
	for _, h := range []string{"Basic " + tk.alice, tk.alice, "Bearer", "Bearer " + tk.alice + "x"} {
		req := httptest.NewRequest("GET", "/predictions", nil)
		req.Header.Set("Authorization", h)
		rec := serveHTTP(t, s, req)
		if rec.Code != 401 {
			t.Errorf("Authorization %.16q...: status %d, want 401", h, rec.Code)
		}
	}
	// The scheme is case-insensitive (RFC 7235).
	req := httptest.NewRequest("GET", "/predictions", nil)
	req.Header.Set("Authorization", "bearer "+tk.alice)
	rec := serveHTTP(t, s, req)
	if rec.Code != 200 {
		t.Errorf("lower-case bearer: status %d, want 200", rec.Code)
	}
}

func TestARevokedKeyIsRefusedWithinSecondsWithoutARestart(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	path := filepath.Join(t.TempDir(), "keys.json")
	tok, err := keys.Add(path, "alice", keys.RolePredict)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keys.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ring.Run(ctx, 50*time.Millisecond) }()
	defer func() { cancel(); <-done }()
	s := New(Config{Keys: ring}, st, nil)

	status := func(token string) int { return send(t, s, "GET", "/predictions", token, "", nil).Code }
	if got := status(tok); got != 200 {
		t.Fatalf("before revoking: %d, want 200", got)
	}
	if err := keys.Revoke(path, "alice"); err != nil {
		t.Fatal(err)
	}
	bob, err := keys.Add(path, "bob", keys.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for (status(tok) != 401 || status(bob) != 200) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if a, b := status(tok), status(bob); a != 401 || b != 200 {
		t.Errorf("after the file changed: revoked token %d (want 401), new token %d (want 200)", a, b)
	}
}

func TestStoredImagesAreCachedPrivately(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	ring, tk := keyring(t)
	s := New(Config{Keys: ring}, st, nil)
	s.SetModel(&fakeModel{version: "v1"})
	id := predictAs(t, s, tk.alice)
	rec := send(t, s, "GET", fmt.Sprintf("/predictions/%d/image.png", id), tk.alice, "", nil)
	if cc := rec.Header().Get("Cache-Control"); rec.Code != 200 || !strings.Contains(cc, "private") || strings.Contains(cc, "public") {
		t.Errorf("image: %d with Cache-Control %q, want 200 and private", rec.Code, cc)
	}
}

func TestWarnsWithoutKeysBeyondLoopback(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	for _, tc := range []struct {
		addr string
		keys bool
		warn bool
	}{
		{"127.0.0.1:0", false, false},
		{"0.0.0.0:0", false, true},
		{"0.0.0.0:0", true, false},
	} {
		var logs syncBuffer
		cfg := Config{}
		if tc.keys {
			cfg.Keys, _ = keyring(t)
		}
		s := New(cfg, st, slogTo(&logs))
		ln, err := net.Listen("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Serve(ctx, ln) }()
		for !strings.Contains(logs.String(), "listening") {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(logs.String(), "no keys file"); got != tc.warn {
			t.Errorf("listening on %s, keys %v: warned %v, want %v\n%s", tc.addr, tc.keys, got, tc.warn, logs.String())
		}
	}
}

// syncBuffer is a strings.Builder safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
