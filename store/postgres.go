package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// migrateLockKey names the PostgreSQL advisory lock that serialises
// AutoMigrate between processes; hashed with the schema, so that stores in
// different schemas of one database do not wait for each other.
const migrateLockKey = "mnistserve: migrate table predictions in schema "

// pgTarget is what a PostgreSQL error message may name: never the password.
type pgTarget struct {
	user, database, host string
	port                 uint16
}

func targetOf(cfg *pgx.ConnConfig) pgTarget {
	return pgTarget{user: cfg.User, database: cfg.Database, host: cfg.Host, port: cfg.Port}
}

// checkEncoding refuses a database whose encoding is not UTF-8: pgx runs
// some of GORM's queries only with client_encoding UTF8, which such a
// database does not give, so the server would fail later with a riddle
// ("simple protocol queries must be run with client_encoding=UTF8").
func (s *Store) checkEncoding(ctx context.Context) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var enc string
	err := s.sqlDB.QueryRowContext(ctx,
		"SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()").Scan(&enc)
	if err != nil {
		return wrap(ctx, "read the database encoding", err)
	}
	if enc != "UTF8" {
		return fmt.Errorf("database %q on %s:%d has encoding %s, not UTF-8: the app needs a UTF-8 database; "+
			"create it with CREATE DATABASE %s ENCODING 'UTF8' TEMPLATE template0 (or initdb --encoding=UTF8)",
			s.pg.database, s.pg.host, s.pg.port, enc, s.pg.database)
	}
	return nil
}

// migratePostgres runs AutoMigrate in a transaction holding an advisory
// lock, so that replicas starting together on an empty database migrate one
// after another: two concurrent CREATE TABLEs would fail one of them
// ("relation already exists", or a duplicate key in pg_type). PostgreSQL
// DDL is transactional, so a failed migration also leaves nothing half done.
func (s *Store) migratePostgres(ctx context.Context) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtext(? || coalesce(current_schema(), '')))", migrateLockKey).Error; err != nil {
			return fmt.Errorf("take the migration lock: %w", err)
		}
		return tx.AutoMigrate(&Prediction{})
	})
}

// isUniqueViolation reports whether err is PostgreSQL's unique_violation.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// explainPostgres rewrites the errors of a database the app cannot use as
// they are (wrong password, unknown user, missing database) into a sentence
// that names the cause and the fix; err stays in the chain, and any other
// error is returned as it is. These are not ErrUnavailable: waiting does not
// fix them.
func explainPostgres(t pgTarget, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	where := fmt.Sprintf("PostgreSQL on %s:%d", t.host, t.port)
	switch pgErr.Code {
	case "28P01": // invalid_password
		return fmt.Errorf("%s refused the password of user %q (wrong password): "+
			"check the user and password in the database URL: %w", where, t.user, err)
	case "28000": // invalid_authorization_specification: no such role, or pg_hba.conf refuses
		return fmt.Errorf("%s refused user %q (no such user, or pg_hba.conf does not let it in from here): "+
			"check the user in the database URL and the server's pg_hba.conf: %w", where, t.user, err)
	case "3D000": // invalid_catalog_name
		return fmt.Errorf("%s has no database %q (missing database): create it (CREATE DATABASE %s ENCODING 'UTF8') "+
			"or fix the database name in the database URL: %w", where, t.database, t.database, err)
	case "42501": // insufficient_privilege, e.g. CREATE on the schema
		return fmt.Errorf("user %q may not create or change table predictions in database %q (permission denied): "+
			"grant it CREATE on the schema or run the app as the table's owner: %w", t.user, t.database, err)
	}
	return err
}
