package keys

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/store/storetest"
)

// backends runs fn against every Backend: the file, and table api_keys on
// SQLite and (with TEST_DATABASE_URL) PostgreSQL. open returns a second
// handle on the same keys, as another machine would have.
func backends(t *testing.T, fn func(t *testing.T, b Backend, open func(t testing.TB) Backend)) {
	t.Run("file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "keys.json")
		fn(t, File(path), func(testing.TB) Backend { return File(path) })
	})
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			st, url := storetest.Open(t, kind)
			b := newDatabase(t, st)
			fn(t, b, func(tb testing.TB) Backend {
				tb.Helper()
				other, err := store.Open(context.Background(), url, nil)
				if err != nil {
					tb.Fatal(err)
				}
				tb.Cleanup(func() { other.Close() })
				return newDatabase(tb, other)
			})
		})
	}
}

// newDatabase is the Database backend on st.
func newDatabase(tb testing.TB, st *store.Store) Backend {
	tb.Helper()
	d, err := NewDatabase(context.Background(), st)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func TestBackendsKeepOnlyHashesAndAgree(t *testing.T) {
	backends(t, func(t *testing.T, b Backend, open func(testing.TB) Backend) {
		ctx := context.Background()
		if ks, err := ListKeys(ctx, b); err != nil || len(ks) != 0 {
			t.Fatalf("empty store lists %+v, %v; want none", ks, err)
		}
		admin, err := AddKey(ctx, b, "ops", RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		alice, err := AddKey(ctx, b, "alice", RolePredict)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			role Role
			want error
		}{
			{"alice", RoleAdmin, ErrExists},
			{"", RolePredict, ErrBadName},
			{"has space", RolePredict, ErrBadName},
			{"bob", "root", ErrBadRole},
		} {
			if _, err := AddKey(ctx, b, tc.name, tc.role); !errors.Is(err, tc.want) {
				t.Errorf("AddKey(%q, %q) = %v, want %v", tc.name, tc.role, err, tc.want)
			}
		}

		other := open(t) // as on another machine
		ks, err := ListKeys(ctx, other)
		if err != nil {
			t.Fatal(err)
		}
		if len(ks) != 2 || ks[0].Name != "ops" || ks[1].Name != "alice" || ks[1].Role != RolePredict {
			t.Fatalf("listed %+v, want ops then alice", ks)
		}
		for _, k := range ks {
			if k.SHA256 == admin || k.SHA256 == alice || (k.SHA256 != Hash(admin) && k.SHA256 != Hash(alice)) {
				t.Errorf("key %q stores %q: want the token's SHA-256 and never the token", k.Name, k.SHA256)
			}
			if k.CreatedAt.IsZero() {
				t.Errorf("key %q has no creation time", k.Name)
			}
		}

		ring, err := OpenBackend(ctx, other, nil)
		if err != nil {
			t.Fatal(err)
		}
		if k, ok := ring.Lookup(alice); !ok || k.Name != "alice" || k.Role != RolePredict {
			t.Fatalf("Lookup(alice's token) = %+v, %v", k, ok)
		}
		if _, ok := ring.Lookup(Hash(alice)); ok {
			t.Fatal("the stored hash was accepted as a token")
		}

		// A revoke through one handle reaches a keyring on another at its
		// next reload; so does a new key.
		if err := RevokeKey(ctx, b, "alice"); err != nil {
			t.Fatal(err)
		}
		if err := RevokeKey(ctx, b, "alice"); !errors.Is(err, ErrNoKey) {
			t.Errorf("second revoke: %v, want ErrNoKey", err)
		}
		bob, err := AddKey(ctx, b, "bob", RolePredict)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := ring.Lookup(alice); !ok {
			t.Fatal("revoke took effect before a reload: the keyring must not hit the store per request")
		}
		ring.Reload()
		if _, ok := ring.Lookup(alice); ok {
			t.Error("revoked token accepted after a reload")
		}
		if k, ok := ring.Lookup(bob); !ok || k.Name != "bob" {
			t.Error("new key not accepted after a reload")
		}
		if _, ok := ring.Lookup(admin); !ok || ring.Len() != 2 {
			t.Errorf("after the reload: admin accepted %v, %d keys; want ops and bob", ok, ring.Len())
		}
	})
}
