package keys

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultReload is how often a Keyring looks at its backend for changes:
// a key added or revoked anywhere takes effect on every server within it.
const DefaultReload = 2 * time.Second

// loadTimeout bounds one load, so that a hung database cannot stall the
// reloads for good.
const loadTimeout = 10 * time.Second

// Keyring is the set of keys a server accepts, loaded from a Backend and
// re-loaded when it changes. It is safe for concurrent use.
type Keyring struct {
	from   Backend
	logger *slog.Logger
	set    atomic.Pointer[keySet]

	mu       sync.Mutex // serialises reloads
	loaded   string     // fingerprint of the keys in set; "" when none loaded
	reported string     // the failure last logged, so each is logged once
}

// keySet is one loaded version of the keys, with decoded hashes.
type keySet struct {
	keys   []Key
	hashes [][]byte
}

// Open reads the keys file at path: OpenBackend on File(path).
func Open(path string, logger *slog.Logger) (*Keyring, error) {
	return OpenBackend(context.Background(), File(path), logger)
}

// OpenBackend loads the keys of from. A store that does not exist yet (no
// file) is not an error: the keyring then accepts no token until keys are
// added, so a server started with keys on before any key was made refuses
// everyone rather than no one. A store that exists but cannot be used (a
// malformed or world-writable file, a database error) is an error.
func OpenBackend(ctx context.Context, from Backend, logger *slog.Logger) (*Keyring, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	k := &Keyring{from: from, logger: logger}
	k.set.Store(&keySet{})
	ks, fp, err := from.Load(ctx)
	switch {
	case errors.Is(err, ErrNotExist):
		logger.Warn("keys file does not exist yet: every route that needs a token answers 401 until keys are added",
			"keys", from.String())
		return k, nil
	case err != nil:
		return nil, err
	}
	k.store(ks, fp)
	return k, nil
}

// Path names where the keys are: the file, or "the database".
func (k *Keyring) Path() string { return k.from.String() }

// store makes ks the current set.
func (k *Keyring) store(ks []Key, fp string) {
	set := &keySet{keys: ks, hashes: make([][]byte, len(ks))}
	for i, key := range ks {
		set.hashes[i], _ = hex.DecodeString(key.SHA256) // the backend checked it
	}
	k.set.Store(set)
	k.loaded = fp
}

// Run re-loads the keys every interval until ctx is done, swapping in the
// new keys when they changed. A store that no longer loads keeps the
// previous keys (logged once per change as an error); a deleted file
// removes every key.
func (k *Keyring) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultReload
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			k.reload(ctx)
		}
	}
}

// Reload re-loads the keys now if they changed. Run calls it; so may tests.
func (k *Keyring) Reload() { k.reload(context.Background()) }

func (k *Keyring) reload(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	k.mu.Lock()
	defer k.mu.Unlock()
	ks, fp, err := k.from.Load(ctx)
	switch {
	case errors.Is(err, ErrNotExist):
		if len(k.set.Load().keys) > 0 {
			k.logger.Warn("keys file removed: no token is accepted now", "keys", k.from.String())
		}
		k.store(nil, "")
		k.reported = ""
		return
	case err != nil:
		// A file that stays broken gives the same fingerprint and error at
		// every tick: one line says it, not one every two seconds.
		if why := fmt.Sprintf("%s\x00%v", fp, err); why != k.reported {
			k.reported = why
			k.logger.Error("keys changed but cannot be used; keeping the keys loaded before", "keys", k.from.String(), "error", err)
		}
		return
	case fp == k.loaded:
		k.reported = ""
		return
	}
	k.reported = ""
	k.store(ks, fp)
	k.logger.Info("keys reloaded", "keys", k.from.String(), "count", len(ks))
}

// Lookup returns the key whose token is token. It hashes the token and
// compares the hash with every stored one in constant time, without
// stopping at a match, so the time taken says nothing about the token.
func (k *Keyring) Lookup(token string) (Key, bool) {
	set := k.set.Load()
	h := sha256.Sum256([]byte(token))
	found := -1
	for i, want := range set.hashes {
		if subtle.ConstantTimeCompare(h[:], want) == 1 {
			found = i
		}
	}
	if found < 0 || token == "" {
		return Key{}, false
	}
	return set.keys[found], true
}

// Len is the number of keys loaded now.
func (k *Keyring) Len() int { return len(k.set.Load().keys) }
