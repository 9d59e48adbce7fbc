package store_test

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/mnistserve/app/store"
)

// KeyHash is the first 16 bytes of the SHA-256 of the scope, a NUL and
// the key, whatever their length: the digest that rows stored by earlier
// builds carry, so that their keys still match after an upgrade.
func TestKeyHashIsTheDigestEarlierBuildsStored(t *testing.T) {
	for _, c := range []struct{ scope, key string }{
		{"addr:127.0.0.1", "k1"},
		{"key:alice", strings.Repeat("x", 64)},
		{"", ""},
		{"key:" + strings.Repeat("n", 300), strings.Repeat("y", 64)}, // longer than the stack buffer
	} {
		h := sha256.New()
		h.Write([]byte(c.scope))
		h.Write([]byte{0})
		h.Write([]byte(c.key))
		want := h.Sum(nil)[:store.KeyHashSize]
		got := store.KeyHash(c.scope, c.key)
		arr := store.KeyHashArray(c.scope, c.key)
		if !bytes.Equal(got, want) || !bytes.Equal(arr[:], want) {
			t.Errorf("KeyHash(%.20q, %.20q) = %x, array %x; want %x", c.scope, c.key, got, arr, want)
		}
	}
	if bytes.Equal(store.KeyHash("a", "bc"), store.KeyHash("ab", "c")) {
		t.Error(`KeyHash("a", "bc") equals KeyHash("ab", "c"): the scope and the key run together`)
	}
}
