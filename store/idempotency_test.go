package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// keyedRows returns n rows stored under scope and key, hashed as request.
func keyedRows(n int, scope, key, request string, seed byte) []*store.Prediction {
	rows := make([]*store.Prediction, n)
	for i := range rows {
		rows[i] = storetest.Prediction(i%10, seed+byte(i))
		rows[i].IdemKeyHash, rows[i].IdemRequest = store.KeyHash(scope, key), []byte(request)
		pos := i
		rows[i].IdemPosition = &pos
	}
	return rows
}

func TestAnIdempotencyKeyStoresOneSetOfRows(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		first := keyedRows(3, "key:alice", "k1", "h1", 1)
		if err := s.Create(ctx, first); err != nil {
			t.Fatal(err)
		}
		got, err := s.ReadKeyed(ctx, store.KeyHash("key:alice", "k1"))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("ReadKeyed: %d rows, want 3", len(got))
		}
		for i, g := range got {
			w := first[i]
			if g.ID != w.ID || g.ID == 0 || *g.IdemPosition != i || string(g.IdemRequest) != "h1" || g.Probabilities != w.Probabilities ||
				g.Confidence != w.Confidence || g.Prediction != w.Prediction || g.ModelVersion != w.ModelVersion {
				t.Errorf("row %d read back as %+v, want %+v", i, g, w)
			}
		}

		t.Run("the same key again stores nothing and says so", func(t *testing.T) {
			again := keyedRows(3, "key:alice", "k1", "h1", 9)
			if err := s.Create(ctx, again); !errors.Is(err, store.ErrKeyUsed) {
				t.Fatalf("Create = %v, want ErrKeyUsed", err)
			}
			if n := count(t, s); n != 3 {
				t.Fatalf("%d rows stored, want 3", n)
			}
		})
		t.Run("a longer batch with the key leaves no row of its own behind", func(t *testing.T) {
			longer := keyedRows(5, "key:alice", "k1", "h2", 20)
			if err := s.Create(ctx, longer); !errors.Is(err, store.ErrKeyUsed) {
				t.Fatalf("Create = %v, want ErrKeyUsed", err)
			}
			if n := count(t, s); n != 3 {
				t.Fatalf("%d rows stored, want 3: the positions the first request lacked were kept", n)
			}
		})
		t.Run("another scope or another key is another request", func(t *testing.T) {
			if err := s.Create(ctx, keyedRows(1, "key:bob", "k1", "h1", 30)); err != nil {
				t.Fatalf("same key, other client: %v", err)
			}
			if err := s.Create(ctx, keyedRows(1, "key:alice", "k2", "h1", 31)); err != nil {
				t.Fatalf("other key, same client: %v", err)
			}
			if err := s.Create(ctx, []*store.Prediction{storetest.Prediction(1, 32), storetest.Prediction(2, 33)}); err != nil {
				t.Fatalf("rows without a key: %v", err)
			}
			if n := count(t, s); n != 7 {
				t.Fatalf("%d rows stored, want 7", n)
			}
		})
		t.Run("once its rows are deleted the key is free", func(t *testing.T) {
			for _, r := range first {
				if err := s.Delete(ctx, r.ID); err != nil {
					t.Fatal(err)
				}
			}
			if got, err := s.ReadKeyed(ctx, store.KeyHash("key:alice", "k1")); err != nil || len(got) != 0 {
				t.Fatalf("ReadKeyed after delete = %d rows, %v; want none", len(got), err)
			}
			fresh := keyedRows(2, "key:alice", "k1", "h3", 40)
			if err := s.Create(ctx, fresh); err != nil || fresh[0].ID == 0 {
				t.Fatalf("Create after delete = %v (id %d), want a fresh insert", err, fresh[0].ID)
			}
		})
	})
}

// TestConcurrentCallsWithOneKeyLoseOnlyTheirOwn sends, at once, many calls
// that race for a few keys beside calls without keys: whatever groups they
// are committed in, each key is stored once, the losers get ErrKeyUsed, and
// every other call is stored.
func TestConcurrentCallsWithOneKeyLoseOnlyTheirOwn(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const keys, tries, plain = 8, 4, 16
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := map[string]int{}
		var plainErrs []error
		for k := range keys {
			for try := range tries {
				wg.Go(func() {
					key := string(rune('a' + k))
					err := s.Create(ctx, keyedRows(2, "addr:10.0.0.1", key, "h", byte(try)))
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						won[key]++
					case !errors.Is(err, store.ErrKeyUsed):
						t.Errorf("key %s: %v, want nil or ErrKeyUsed", key, err)
					}
				})
			}
		}
		for i := range plain {
			wg.Go(func() {
				err := s.Create(ctx, []*store.Prediction{storetest.Prediction(i%10, byte(i))})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					plainErrs = append(plainErrs, err)
				}
			})
		}
		wg.Wait()
		for k := range keys {
			if key := string(rune('a' + k)); won[key] != 1 {
				t.Errorf("key %s stored by %d calls, want 1", key, won[key])
			}
		}
		if len(plainErrs) > 0 {
			t.Errorf("calls without a key failed beside the racing ones: %v", plainErrs)
		}
		if n := count(t, s); n != keys*2+plain {
			t.Errorf("%d rows stored, want %d", n, keys*2+plain)
		}
	})
}
