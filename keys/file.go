package keys

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// maxFileSize bounds what a keys file may hold: a thousand keys take
// about 200 KB, and a bigger file (or /dev/zero) is not one of ours.
const maxFileSize = 4 << 20

// File is the Backend of a keys file: JSON, replaced atomically on every
// change, readable by its owner only.
type File string

// String is the file's path.
func (f File) String() string { return string(f) }

// Load reads and parses the file; its fingerprint is the SHA-256 of the
// bytes read, so that a file that stays broken is reported once.
func (f File) Load(context.Context) ([]Key, string, error) {
	raw, err := readFile(string(f))
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(raw)
	fp := hex.EncodeToString(sum[:])
	ks, err := Parse(bytes.NewReader(raw))
	if err != nil {
		return nil, fp, fmt.Errorf("read keys %s: %w", f, err)
	}
	return ks, fp, nil
}

// Insert adds k to the file, creating it when missing.
func (f File) Insert(ctx context.Context, k Key) error {
	unlock, err := lock(string(f))
	if err != nil {
		return err
	}
	defer unlock()
	ks, err := f.loadOrEmpty(ctx)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(ks, func(o Key) bool { return o.Name == k.Name }) {
		return fmt.Errorf("%w: %q (revoke it first)", ErrExists, k.Name)
	}
	return write(string(f), append(ks, k))
}

// Delete removes the key called name from the file.
func (f File) Delete(ctx context.Context, name string) error {
	unlock, err := lock(string(f))
	if err != nil {
		return err
	}
	defer unlock()
	ks, err := f.loadOrEmpty(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(ks, func(k Key) bool { return k.Name == name })
	if i < 0 {
		return fmt.Errorf("%w: %q", ErrNoKey, name)
	}
	return write(string(f), slices.Delete(ks, i, i+1))
}

// loadOrEmpty is Load, with a missing file read as no keys.
func (f File) loadOrEmpty(ctx context.Context) ([]Key, error) {
	ks, _, err := f.Load(ctx)
	if errors.Is(err, ErrNotExist) {
		return nil, nil
	}
	return ks, err
}

// readFile reads the keys file at path, refusing what is not a regular
// file, what is too big, and a file anyone may write: as ssh refuses such
// key files, since anyone on the machine could add a key of their own to it.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	switch {
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("read keys %s: %w: not a regular file (%v)", path, ErrUnsafe, fi.Mode().Type())
	case fi.Mode().Perm()&0o002 != 0:
		return nil, fmt.Errorf("read keys %s: %w: it is world-writable (mode %04o), so anyone could add a key; "+
			"refusing it as ssh does: run chmod o-w %s (app keys writes it 0600)", path, ErrUnsafe, fi.Mode().Perm(), path)
	case fi.Size() > maxFileSize:
		return nil, fmt.Errorf("read keys %s: %w: %d bytes, more than the %d a keys file may hold", path, ErrBadFile, fi.Size(), maxFileSize)
	}
	raw, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read keys %s: %w", path, err)
	}
	if len(raw) > maxFileSize {
		return nil, fmt.Errorf("read keys %s: %w: more than the %d bytes a keys file may hold", path, ErrBadFile, maxFileSize)
	}
	return raw, nil
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
