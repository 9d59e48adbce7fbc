package serve

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mnistserve/app/keys"
	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// sendKeyed posts body to target with Idempotency-Key key from addr.
func sendKeyed(tb testing.TB, s *Server, target, key, addr string, body []byte) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(headerIdempotencyKey, key)
	if addr != "" {
		req.RemoteAddr = addr
	}
	return serveHTTP(tb, s, req)
}

func TestBadIdempotencyKeysAre400(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	s := newServer(t, st, &fakeModel{version: "v"})
	body := mustJSON(t, map[string]any{"image": flat(digitImage(1))})
	for _, tc := range []struct {
		name, key string
	}{
		{"an empty key", ""},
		{"an empty quoted key", `""`},
		{"a key of 65 characters", strings.Repeat("k", 65)},
		{"a key with a control character", "abc\x01def"},
		{"a key with a tab", "abc\tdef"},
		{"a key with a non-ASCII character", "clé"},
		{"a quoted key with a bare quote inside", `"a"b"`},
	} {
		t.Run(tc.name+" is refused naming the header", func(t *testing.T) {
			for _, target := range []string{"/predict", "/predict/batch"} {
				b := body
				if target == "/predict/batch" {
					b = mustJSON(t, map[string]any{"images": [][]int{flat(digitImage(1))}})
				}
				rec := sendKeyed(t, s, target, tc.key, "", b)
				if msg := errorOf(t, rec, http.StatusBadRequest); !strings.Contains(msg, headerIdempotencyKey) {
					t.Errorf("%s: error %q does not name the header", target, msg)
				}
			}
		})
	}
	t.Run("two Idempotency-Key headers are refused", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodPost, "/predict", bytes.NewReader(body))
		req.Header.Add(headerIdempotencyKey, "a")
		req.Header.Add(headerIdempotencyKey, "b")
		rec := serveHTTP(t, s, req)
		errorOf(t, rec, http.StatusBadRequest)
	})
	if n := count(t, st); n != 0 {
		t.Errorf("%d rows stored by refused requests, want 0", n)
	}
	for _, key := range []string{strings.Repeat("k", 64), `"8e03978e-40d5-43e8-bc93-6894a57f9324"`, "with space ~!", `"a\"b"`} {
		if rec := sendKeyed(t, s, "/predict", key, "", body); rec.Code != http.StatusOK {
			t.Errorf("key %q: status %d, want 200: %s", key, rec.Code, rec.Body)
		}
	}
}

func TestARepeatedKeyGetsTheFirstAnswer(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		s := newServer(t, st, &fakeModel{version: "fake-v1"})
		one := mustJSON(t, map[string]any{"image": rows(digitImage(7))})
		batch := mustJSON(t, map[string]any{"images": [][]int{flat(digitImage(3)), flat(digitImage(1)), flat(digitImage(3))}})
		for _, tc := range []struct {
			target string
			body   []byte
			rows   int64
		}{
			{"/predict", one, 1},
			{"/predict?pretty", one, 1},
			{"/predict/batch", batch, 3},
		} {
			t.Run(tc.target+" answers a repeat byte for byte from the stored rows", func(t *testing.T) {
				key := "k-" + tc.target
				before := count(t, st)
				first := sendKeyed(t, s, tc.target, key, "", tc.body)
				if first.Code != http.StatusOK || first.Header().Get(headerReplayed) != "" {
					t.Fatalf("first: %d, %s=%q: %s", first.Code, headerReplayed, first.Header().Get(headerReplayed), first.Body)
				}
				// The same images in other JSON whitespace are the same request.
				again := sendKeyed(t, s, tc.target, key, "", append([]byte(" "), tc.body...))
				if again.Code != http.StatusOK || again.Header().Get(headerReplayed) != "true" {
					t.Fatalf("repeat: %d, %s=%q, want 200 replayed: %s", again.Code, headerReplayed, again.Header().Get(headerReplayed), again.Body)
				}
				if !bytes.Equal(first.Body.Bytes(), again.Body.Bytes()) {
					t.Fatalf("replayed answer differs from the first:\n%s\n%s", first.Body, again.Body)
				}
				if got := count(t, st); got != before+tc.rows {
					t.Fatalf("%d rows, want %d: the repeat added rows", got, before+tc.rows)
				}
			})
		}
		t.Run("the same key with other images is 422 and stores nothing", func(t *testing.T) {
			before := count(t, st)
			other := mustJSON(t, map[string]any{"image": rows(digitImage(2))})
			errorOf(t, sendKeyed(t, s, "/predict", "k-/predict", "", other), http.StatusUnprocessableEntity)
			// The same image as a batch of one is another request too.
			asBatch := mustJSON(t, map[string]any{"images": [][]int{flat(digitImage(7))}})
			errorOf(t, sendKeyed(t, s, "/predict/batch", "k-/predict", "", asBatch), http.StatusUnprocessableEntity)
			if got := count(t, st); got != before {
				t.Fatalf("%d rows, want %d", got, before)
			}
		})
		t.Run("the same key from another client is its own request", func(t *testing.T) {
			before := count(t, st)
			a := sendKeyed(t, s, "/predict", "shared", "192.0.2.1:1000", one)
			b := sendKeyed(t, s, "/predict", "shared", "192.0.2.2:1000", one)
			if a.Code != 200 || b.Code != 200 || b.Header().Get(headerReplayed) != "" || bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) {
				t.Fatalf("two clients, one key: %d %q / %d %q; want two fresh answers", a.Code, a.Body, b.Code, b.Body)
			}
			if got := count(t, st); got != before+2 {
				t.Fatalf("%d rows, want %d", got, before+2)
			}
		})
		t.Run("a batch one of whose rows was deleted is 422 saying so, and stores nothing", func(t *testing.T) {
			first := sendKeyed(t, s, "/predict/batch", "part", "", batch)
			var ans struct {
				Predictions []struct{ ID int64 } `json:"predictions"`
			}
			decode(t, first, http.StatusOK, &ans)
			if err := st.Delete(context.Background(), ans.Predictions[1].ID); err != nil {
				t.Fatal(err)
			}
			before := count(t, st)
			msg := errorOf(t, sendKeyed(t, s, "/predict/batch", "part", "", batch), http.StatusUnprocessableEntity)
			if !strings.Contains(msg, "deleted") || !strings.Contains(msg, "2 of its 3") || strings.Contains(msg, "another request") {
				t.Errorf("the error says %q, want that 2 of the 3 predictions stored with the key are left (one was deleted)", msg)
			}
			if got := count(t, st); got != before {
				t.Fatalf("%d rows, want %d", got, before)
			}
		})
		t.Run("after retention deleted the row the key is fresh", func(t *testing.T) {
			first := sendKeyed(t, s, "/predict", "old", "", one)
			if _, err := st.DeleteBefore(context.Background(), time.Now().Add(time.Hour), 1000); err != nil {
				t.Fatal(err)
			}
			again := sendKeyed(t, s, "/predict", "old", "", one)
			if again.Code != 200 || again.Header().Get(headerReplayed) != "" || bytes.Equal(first.Body.Bytes(), again.Body.Bytes()) {
				t.Fatalf("after retention: %d %s=%q %s; want a fresh answer with a new id", again.Code, headerReplayed, again.Header().Get(headerReplayed), again.Body)
			}
			if got := count(t, st); got != 1 {
				t.Fatalf("%d rows, want 1", got)
			}
		})
	})
}

func TestAKeyStillInFlightIs409(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	m := &fakeModel{version: "slow", delay: 300 * time.Millisecond}
	s := newServer(t, st, m)
	body := mustJSON(t, map[string]any{"image": flat(digitImage(4))})
	firstDone := make(chan *httptest.ResponseRecorder, 1)
	go func() { firstDone <- sendKeyed(t, s, "/predict", "slow-key", "", body) }()
	deadline := time.Now().Add(5 * time.Second)
	for m.calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	msg := errorOf(t, sendKeyed(t, s, "/predict", "slow-key", "", body), http.StatusConflict)
	if !strings.Contains(msg, "slow-key") {
		t.Errorf("409 message %q does not name the key", msg)
	}
	first := <-firstDone
	if first.Code != 200 {
		t.Fatalf("first: %d %s", first.Code, first.Body)
	}
	retry := sendKeyed(t, s, "/predict", "slow-key", "", body)
	if retry.Code != 200 || !bytes.Equal(retry.Body.Bytes(), first.Body.Bytes()) || retry.Header().Get(headerReplayed) != "true" {
		t.Fatalf("the 409 retried: %d %s; want the first answer replayed: %s", retry.Code, retry.Body, first.Body)
	}
	if n := count(t, st); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

// TestConcurrentReplicasWithOneKeyStoreOneRow runs two servers on one
// database, as two replicas are, and sends each the same keyed requests
// at once: every pair gets one answer, replayed on one side, and one row.
func TestConcurrentReplicasWithOneKeyStoreOneRow(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			st, url := storetest.Open(t, kind)
			st2, err := store.Open(context.Background(), url, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer st2.Close()
			replicas := []*Server{newServer(t, st, &fakeModel{version: "v"}), newServer(t, st2, &fakeModel{version: "v"})}
			const pairs = 40
			answers := make([][2]*httptest.ResponseRecorder, pairs)
			var wg sync.WaitGroup
			for i := range pairs {
				body := mustJSON(t, map[string]any{"images": [][]int{flat(digitImage(i % 10)), flat(digitImage((i + 3) % 10))}})
				for r := range replicas {
					wg.Go(func() {
						answers[i][r] = sendKeyed(t, replicas[r], "/predict/batch", "pair-"+string(rune('A'+i)), "", body)
					})
				}
			}
			wg.Wait()
			for i, a := range answers {
				if a[0].Code != 200 || a[1].Code != 200 || !bytes.Equal(a[0].Body.Bytes(), a[1].Body.Bytes()) {
					t.Fatalf("pair %d: %d %s / %d %s; want one answer twice", i, a[0].Code, a[0].Body, a[1].Code, a[1].Body)
				}
				if r0, r1 := a[0].Header().Get(headerReplayed), a[1].Header().Get(headerReplayed); (r0 == "true") == (r1 == "true") {
					t.Errorf("pair %d: replayed %q and %q; want exactly one replayed", i, r0, r1)
				}
			}
			if n := count(t, st); n != pairs*2 {
				t.Fatalf("%d rows, want %d", n, pairs*2)
			}
		})
	}
}

func TestAKeyIsScopedToTheTokenNotTheAddress(t *testing.T) {
	st, _ := storetest.Open(t, "sqlite")
	path := filepath.Join(t.TempDir(), "keys.json")
	alice, err := keys.Add(path, "alice", keys.RolePredict)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := keys.Add(path, "bob", keys.RolePredict)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keys.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Keys: ring}, st, nil)
	t.Cleanup(s.Close)
	s.SetModel(&fakeModel{version: "v"})
	body := mustJSON(t, map[string]any{"image": flat(digitImage(5))})
	post := func(token, addr string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/predict", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set(headerIdempotencyKey, "order-1")
		req.RemoteAddr = addr
		rec := serveHTTP(t, s, req)
		return rec
	}
	first := post(alice, "192.0.2.1:1")
	moved := post(alice, "198.51.100.7:2") // alice retries from elsewhere
	other := post(bob, "192.0.2.1:1")      // bob happens to pick the same key
	if first.Code != 200 || moved.Header().Get(headerReplayed) != "true" || !bytes.Equal(first.Body.Bytes(), moved.Body.Bytes()) {
		t.Fatalf("alice's retry from another address: %d %q, want her first answer replayed: %s", moved.Code, moved.Body, first.Body)
	}
	if other.Code != 200 || other.Header().Get(headerReplayed) != "" || bytes.Equal(first.Body.Bytes(), other.Body.Bytes()) {
		t.Fatalf("bob with alice's key: %d %q; want an answer of his own", other.Code, other.Body)
	}
	if n := count(t, st); n != 2 {
		t.Fatalf("%d rows, want 2", n)
	}
}

// mark numbers a request's rows 0, 1, 2 ... whatever their count (the
// first 64 point into one shared array, more get their own), and gives
// every row the key's hash and the request's digest.
func TestMarkNumbersEveryRow(t *testing.T) {
	for _, n := range []int{1, 3, len(positions), len(positions) + 1, maxBatch} {
		k := &idemKey{route: "/predict/batch", id: store.KeyHashArray("addr:127.0.0.1", "k")}
		rows := make([]*store.Prediction, n)
		for i := range rows {
			rows[i] = &store.Prediction{Image: []byte{byte(i)}}
		}
		k.mark(rows)
		for i, r := range rows {
			pos := -1 // none
			if r.IdemPosition != nil {
				pos = *r.IdemPosition
			}
			if pos != i || !bytes.Equal(r.IdemKeyHash, k.id[:]) || len(r.IdemRequest) != requestHashSize {
				t.Fatalf("%d rows: row %d has position %d, key %x, digest %x", n, i, pos, r.IdemKeyHash, r.IdemRequest)
			}
		}
	}
	if positions[5] != 5 {
		t.Fatalf("positions[5] = %d: the shared positions were written through", positions[5])
	}
}
