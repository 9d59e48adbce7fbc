package store

import "context"

// ExplainPostgresForTest exposes explainPostgres to the store_test package.
func ExplainPostgresForTest(user, database, host string, port uint16, err error) error {
	return explainPostgres(pgTarget{user: user, database: database, host: host, port: port}, err)
}

// InsertAllForTest exposes insertAll, one group commit's write, to the
// store_test package.
func (s *Store) InsertAllForTest(ctx context.Context, rows []*Prediction) error {
	return s.insertAll(ctx, rows)
}
