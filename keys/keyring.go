package keys

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultReload is how often a Keyring looks at its file for changes.
const DefaultReload = 2 * time.Second

// Keyring is the set of keys a server accepts, read from a keys file and
// re-read when the file changes. It is safe for concurrent use.
type Keyring struct {
	path   string
	logger *slog.Logger
	set    atomic.Pointer[keySet]

	mu  sync.Mutex // serialises reloads
	raw []byte     // the file contents last loaded
}

// keySet is one loaded version of the file, with decoded hashes.
type keySet struct {
	keys   []Key
	hashes [][]byte
}

// Open reads the keys file at path. A missing file is not an error: the
// keyring then accepts no token until the file appears, so a server started
// with --keys before any key was made refuses everyone rather than no one.
func Open(path string, logger *slog.Logger) (*Keyring, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	k := &Keyring{path: path, logger: logger}
	k.set.Store(&keySet{})
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		logger.Warn("keys file does not exist yet: every route that needs a token answers 401 until keys are added",
			"keys", path)
		return k, nil
	case err != nil:
		return nil, err
	}
	if err := k.load(raw); err != nil {
		return nil, err
	}
	return k, nil
}

// Path is the keys file the keyring reads.
func (k *Keyring) Path() string { return k.path }

// load parses raw and makes it the current set.
func (k *Keyring) load(raw []byte) error {
	ks, err := Parse(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	set := &keySet{keys: ks, hashes: make([][]byte, len(ks))}
	for i, key := range ks {
		set.hashes[i], _ = hex.DecodeString(key.SHA256) // Parse checked it
	}
	k.set.Store(set)
	k.raw = raw
	return nil
}

// Run re-reads the file every interval until ctx is done, swapping in the
// new keys when its contents changed. A file that no longer parses keeps the
// previous keys (logged as an error); a deleted file removes every key.
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
			k.Reload()
		}
	}
}

// Reload re-reads the file now if it changed. Run calls it; so may tests.
func (k *Keyring) Reload() {
	k.mu.Lock()
	defer k.mu.Unlock()
	raw, err := os.ReadFile(k.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if len(k.set.Load().keys) > 0 {
			k.logger.Warn("keys file removed: no token is accepted now", "keys", k.path)
		}
		k.set.Store(&keySet{})
		k.raw = nil
		return
	case err != nil:
		k.logger.Error("read keys file; keeping the keys loaded before", "keys", k.path, "error", err)
		return
	case bytes.Equal(raw, k.raw):
		return
	}
	if err := k.load(raw); err != nil {
		k.logger.Error("keys file changed but does not parse; keeping the keys loaded before", "keys", k.path, "error", err)
		return
	}
	k.logger.Info("keys file reloaded", "keys", k.path, "count", len(k.set.Load().keys))
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
