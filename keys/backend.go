package keys

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Backend is where the keys are kept: a file (File) or a database table
// (Database). The operations of `app keys` and the Keyring of the server
// work on any Backend the same way; the shared test suite holds every
// backend to that.
type Backend interface {
	// Load returns every key, and a fingerprint of what it read: the same
	// fingerprint means nothing changed since, so a poller can skip the
	// work and, for a broken store, the log line. A store that does not
	// exist yet gives an error wrapping ErrNotExist.
	Load(ctx context.Context) (ks []Key, fingerprint string, err error)
	// Insert stores k, whose fields are checked already; an error wraps
	// ErrExists when a key of that name is stored.
	Insert(ctx context.Context, k Key) error
	// Delete removes the key called name; an error wraps ErrNoKey when
	// there is none.
	Delete(ctx context.Context, name string) error
	// String names the store for messages: the file, or "the database".
	String() string
}

// AddKey makes a new random token for name with role, stores its hash in
// b, and returns the token: the only time it exists anywhere.
func AddKey(ctx context.Context, b Backend, name string, role Role) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return "", err
	}
	token := NewToken()
	k := Key{Name: name, Role: role, SHA256: Hash(token), CreatedAt: time.Now().UTC().Truncate(time.Second)}
	if err := b.Insert(ctx, k); err != nil {
		return "", err
	}
	return token, nil
}

// RevokeKey removes the key called name from b; its token stops working
// once the running servers have re-loaded their keys (within seconds).
func RevokeKey(ctx context.Context, b Backend, name string) error {
	return b.Delete(ctx, name)
}

// ListKeys returns the keys of b in the order they were added; a store that does not
// exist yet holds none.
func ListKeys(ctx context.Context, b Backend) ([]Key, error) {
	ks, _, err := b.Load(ctx)
	if errors.Is(err, ErrNotExist) {
		return []Key{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list keys in %s: %w", b, err)
	}
	if ks == nil {
		ks = []Key{}
	}
	return ks, nil
}

// Add is AddKey on the keys file at path (created when missing).
func Add(path, name string, role Role) (string, error) {
	return AddKey(context.Background(), File(path), name, role)
}

// Revoke is RevokeKey on the keys file at path.
func Revoke(path, name string) error { return RevokeKey(context.Background(), File(path), name) }

// List is ListKeys on the keys file at path; a missing file has none.
func List(path string) ([]Key, error) { return ListKeys(context.Background(), File(path)) }
