package keys

import (
	"context"
	"errors"
	"fmt"

	"github.com/mnistserve/app/store"
)

// InDatabase is the --keys value (env API_KEYS_FILE) that keeps the keys in
// table api_keys of the database --db names instead of a file.
const InDatabase = "db"

// Database is the Backend of table api_keys. Every server polls it (see
// Keyring.Run), so a key added or revoked on any machine takes effect on
// every replica within DefaultReload.
type Database struct {
	st *store.Store
}

// NewDatabase creates table api_keys in st when missing and returns its
// Backend.
func NewDatabase(ctx context.Context, st *store.Store) (*Database, error) {
	if err := st.MigrateAPIKeys(ctx); err != nil {
		return nil, err
	}
	return &Database{st: st}, nil
}

// String says where the keys are.
func (d *Database) String() string { return "table api_keys of the database" }

// Load reads every key. A row that a hand-made edit left unusable fails
// the load as a malformed file does, keeping a server's previous keys.
func (d *Database) Load(ctx context.Context) ([]Key, string, error) {
	rows, fp, err := d.st.APIKeys(ctx)
	if err != nil {
		return nil, "", err
	}
	ks := make([]Key, len(rows))
	for i, r := range rows {
		ks[i] = Key{Name: r.Name, Role: Role(r.Role), SHA256: r.SHA256, CreatedAt: r.CreatedAt}
	}
	if err := check(ks); err != nil {
		return nil, fp, fmt.Errorf("read keys from %s: %w", d, err)
	}
	return ks, fp, nil
}

// Insert stores k.
func (d *Database) Insert(ctx context.Context, k Key) error {
	err := d.st.InsertAPIKey(ctx, &store.APIKeyRow{Name: k.Name, Role: string(k.Role), SHA256: k.SHA256, CreatedAt: k.CreatedAt})
	if errors.Is(err, store.ErrAPIKeyTaken) {
		return fmt.Errorf("%w: %q (revoke it first)", ErrExists, k.Name)
	}
	return err
}

// Delete removes the key called name.
func (d *Database) Delete(ctx context.Context, name string) error {
	err := d.st.DeleteAPIKey(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %q", ErrNoKey, name)
	}
	return err
}
