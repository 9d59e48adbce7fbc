package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// ErrNotFound reports that no prediction has the requested id.
var ErrNotFound = errors.New("prediction not found")

// ErrUnavailable reports that the database could not be reached or did not
// answer in time; the HTTP layer turns it into 503, and a caller may retry.
var ErrUnavailable = errors.New("database unavailable")

// SQLite result codes (the low byte of an extended code) that mean another
// writer held the file longer than busy_timeout: a transient condition.
const (
	sqliteBusy   = 5
	sqliteLocked = 6
)

// wrap names the operation and sorts err into ErrNotFound, ErrUnavailable or
// neither, keeping the driver's error in the chain so logs show the cause.
func wrap(ctx context.Context, op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	case unavailable(ctx, err):
		return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}

// unavailable reports whether err means the database is unreachable, gone or
// too slow, as opposed to a query the database understood and refused.
func unavailable(ctx context.Context, err error) bool {
	// A query cut short by the caller's deadline counts as an unanswered
	// database even when the driver reports it differently (e.g. 57014).
	if ctx != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	// A caller that gave up (client gone, shutdown) says nothing about the
	// database; the chain still holds context.Canceled for callers to test.
	if (ctx != nil && errors.Is(ctx.Err(), context.Canceled)) || errors.Is(err, context.Canceled) {
		return false
	}
	// An answer from the server decides by its SQLSTATE: a wrong password or
	// a missing database is a configuration error that retrying cannot fix.
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || // connection exception
			strings.HasPrefix(pgErr.Code, "53") || // insufficient resources, e.g. too many connections
			pgErr.Code == "57014" || // statement_timeout: the server is too slow
			pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03" // shutting down or starting up
	}
	var sqliteErr interface{ Code() int }
	if errors.As(err, &sqliteErr) {
		code := sqliteErr.Code() & 0xff
		return code == sqliteBusy || code == sqliteLocked
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr),
		errors.As(err, &netErr),
		pgconn.Timeout(err),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, sql.ErrConnDone),
		errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE):
		return true
	}
	// database/sql does not export the error it returns after Close.
	return strings.Contains(err.Error(), "sql: database is closed")
}
