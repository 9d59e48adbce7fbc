// Package keys keeps the API tokens of the server: each key has a name (the
// client it stands for), a role, and only the SHA-256 of its token, so a
// leaked copy gives nobody a token. The keys live in a Backend: a small JSON
// file (File) or a table of the database (Database). A Keyring loads them,
// re-loads them when they change, and checks presented tokens in constant
// time.
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
	"regexp"
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
	ErrUnsafe   = errors.New("unsafe keys file")
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
	if err := check(f.Keys); err != nil {
		return nil, err
	}
	return f.Keys, nil
}

// check checks every key of a loaded set: names, roles, hashes, no name
// twice.
func check(ks []Key) error {
	seen := make(map[string]bool, len(ks))
	for i, k := range ks {
		if err := CheckName(k.Name); err != nil {
			return fmt.Errorf("%w: key %d: %w", ErrBadFile, i, err)
		}
		if _, err := ParseRole(string(k.Role)); err != nil {
			return fmt.Errorf("%w: key %q: %w", ErrBadFile, k.Name, err)
		}
		if h, err := hex.DecodeString(k.SHA256); err != nil || len(h) != sha256.Size {
			return fmt.Errorf("%w: key %q: sha256 is not 64 hex digits", ErrBadFile, k.Name)
		}
		if seen[k.Name] {
			return fmt.Errorf("%w: key name %q appears twice", ErrBadFile, k.Name)
		}
		seen[k.Name] = true
	}
	return nil
}

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
