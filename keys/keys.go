// Package keys keeps the API tokens of the server in a small JSON file: each
// key has a name (the client it stands for), a role, and only the SHA-256 of
// its token, so a leaked file gives nobody a token. A Keyring reads the file,
// re-reads it when it changes, and checks presented tokens in constant time.
package keys

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"
)

// Role says what a key may do.
type Role string

const (
	// RolePredict may ask for predictions and read and label its own.
	RolePredict Role = "predict"
	// RoleAdmin may do everything: every stored row, model operations, metrics.
	RoleAdmin Role = "admin"
)

// Allows reports whether a key of role r may use a route that needs need.
func (r Role) Allows(need Role) bool {
	switch r {
	case RoleAdmin:
		return true
	case RolePredict:
		return need == RolePredict
	}
	return false
}

// ParseRole checks s names a role.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RolePredict, RoleAdmin:
		return r, nil
	}
	return "", fmt.Errorf("%w: %q, want admin or predict", ErrBadRole, s)
}

// Errors callers branch on.
var (
	ErrBadRole  = errors.New("unknown role")
	ErrBadName  = errors.New("invalid key name")
	ErrExists   = errors.New("a key with this name exists")
	ErrNoKey    = errors.New("no key with this name")
	ErrBadFile  = errors.New("malformed keys file")
	ErrNotExist = fs.ErrNotExist
)

// Key is one entry of the keys file.
type Key struct {
	// Name identifies the client; it is what stored predictions record.
	Name string `json:"name"`
	// Role is what the key may do.
	Role Role `json:"role"`
	// SHA256 is the hex SHA-256 of the token; the token itself is never kept.
	SHA256 string `json:"sha256"`
	// CreatedAt is when `app keys add` made the key.
	CreatedAt time.Time `json:"created_at"`
}

// file is the JSON document on disk.
type file struct {
	Keys []Key `json:"keys"`
}

// nameRE keeps names short and plain: they appear in logs and in the table.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckName refuses a name that is empty, long, or not plain.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w %q: use 1..64 letters, digits, '.', '_' or '-', starting with a letter or digit", ErrBadName, name)
	}
	return nil
}

// Parse reads a keys file, checking every entry.
func Parse(r io.Reader) ([]Key, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadFile, err)
	}
	seen := make(map[string]bool, len(f.Keys))
	for i, k := range f.Keys {
		if err := CheckName(k.Name); err != nil {
			return nil, fmt.Errorf("%w: key %d: %w", ErrBadFile, i, err)
		}
		if _, err := ParseRole(string(k.Role)); err != nil {
			return nil, fmt.Errorf("%w: key %q: %w", ErrBadFile, k.Name, err)
		}
		if h, err := hex.DecodeString(k.SHA256); err != nil || len(h) != sha256.Size {
			return nil, fmt.Errorf("%w: key %q: sha256 is not 64 hex digits", ErrBadFile, k.Name)
		}
		if seen[k.Name] {
			return nil, fmt.Errorf("%w: key name %q appears twice", ErrBadFile, k.Name)
		}
		seen[k.Name] = true
	}
	return f.Keys, nil
}

// Read reads and parses the keys file at path; a missing file gives an error
// wrapping ErrNotExist.
func Read(path string) ([]Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	defer f.Close()
	ks, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("read keys %s: %w", path, err)
	}
	return ks, nil
}

// readOrEmpty is Read, with a missing file read as no keys.
func readOrEmpty(path string) ([]Key, error) {
	ks, err := Read(path)
	if errors.Is(err, ErrNotExist) {
		return nil, nil
	}
	return ks, err
}

// Add makes a new random token for name with role, stores its hash in the
// file at path (creating the file), and returns the token: the only time
// it exists anywhere.
func Add(path, name string, role Role) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return "", err
	}
	ks, err := readOrEmpty(path)
	if err != nil {
		return "", err
	}
	if slices.ContainsFunc(ks, func(k Key) bool { return k.Name == name }) {
		return "", fmt.Errorf("%w: %q (revoke it first)", ErrExists, name)
	}
	token := NewToken()
	ks = append(ks, Key{Name: name, Role: role, SHA256: Hash(token), CreatedAt: time.Now().UTC().Truncate(time.Second)})
	if err := write(path, ks); err != nil {
		return "", err
	}
	return token, nil
}

// Revoke removes the key called name from the file at path; its token stops
// working once a running server has re-read the file.
func Revoke(path, name string) error {
	ks, err := readOrEmpty(path)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(ks, func(k Key) bool { return k.Name == name })
	if i < 0 {
		return fmt.Errorf("%w: %q", ErrNoKey, name)
	}
	return write(path, slices.Delete(ks, i, i+1))
}

// List returns the keys of the file at path; a missing file has none.
func List(path string) ([]Key, error) { return readOrEmpty(path) }

// tokenPrefix marks our tokens, so secret scanners and people can tell them.
const tokenPrefix = "mnist_"

// NewToken returns a fresh token: 256 random bits, URL-safe.
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it panics instead)
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// Hash returns the hex SHA-256 of token, as the keys file stores it.
func Hash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// write replaces the file at path atomically (temp file, fsync, rename), so
// a server re-reading it never sees half a file. It is readable only by its
// owner: hashes are not tokens, but there is no need to show them around.
func write(path string, ks []Key) error {
	if ks == nil {
		ks = []Key{}
	}
	data, err := json.MarshalIndent(file{Keys: ks}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode keys: %w", err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write keys: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".keys-*.tmp")
	if err != nil {
		return fmt.Errorf("write keys: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this finds nothing
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write keys: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write keys: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write keys: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write keys: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write keys: %w", err)
	}
	return nil
}
