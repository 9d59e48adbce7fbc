package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// sqliteError mimics the driver's error type, which carries a result code.
type sqliteError int

func (e sqliteError) Error() string { return fmt.Sprintf("sqlite error %d", int(e)) }
func (e sqliteError) Code() int     { return int(e) }

func TestWrapSortsErrors(t *testing.T) {
	expired, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	bg := context.Background()

	tests := []struct {
		name            string
		ctx             context.Context
		err             error
		wantNotFound    bool
		wantUnavailable bool
	}{
		{"a missing row is not found", bg, gorm.ErrRecordNotFound, true, false},
		{"a refused connection is unavailable", bg, &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, false, true},
		{"a wrapped ECONNREFUSED is unavailable", bg, fmt.Errorf("dial: %w", syscall.ECONNREFUSED), false, true},
		{"a reset connection is unavailable", bg, fmt.Errorf("read: %w", syscall.ECONNRESET), false, true},
		{"a server that hung up is unavailable", bg, fmt.Errorf("read: %w", io.ErrUnexpectedEOF), false, true},
		{"a bad connection is unavailable", bg, driver.ErrBadConn, false, true},
		{"a finished connection is unavailable", bg, sql.ErrConnDone, false, true},
		{"a closed pgx connection is unavailable", bg, fmt.Errorf("x: %w", pgconn.ErrConnClosed), false, true},
		{"a deadline is unavailable", bg, context.DeadlineExceeded, false, true},
		{"any error after the caller's deadline is unavailable", expired, &pgconn.PgError{Code: "57014"}, false, true},
		{"a closed pool is unavailable", bg, errors.New("sql: database is closed"), false, true},
		{"a server shutting down is unavailable", bg, &pgconn.PgError{Code: "57P01"}, false, true},
		{"a server starting up is unavailable", bg, &pgconn.PgError{Code: "57P03"}, false, true},
		{"too many connections is unavailable", bg, &pgconn.PgError{Code: "53300"}, false, true},
		{"a connection failure code is unavailable", bg, &pgconn.PgError{Code: "08006"}, false, true},
		{"a busy SQLite file is unavailable", bg, sqliteError(5), false, true},
		{"an extended busy code is unavailable", bg, sqliteError(5 | 2<<8), false, true},
		{"a wrong password is a configuration error", bg, &pgconn.PgError{Code: "28P01"}, false, false},
		{"a missing database is a configuration error", bg, &pgconn.PgError{Code: "3D000"}, false, false},
		{"a check violation is the caller's error", bg, &pgconn.PgError{Code: "23514"}, false, false},
		{"a SQLite constraint is the caller's error", bg, sqliteError(275), false, false},
		{"a cancelled caller is not an outage", cancelled, fmt.Errorf("x: %w", context.Canceled), false, false},
		{"a plain error is neither", bg, errors.New("syntax error"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := wrap(tt.ctx, "op", tt.err)
			if got := errors.Is(err, ErrNotFound); got != tt.wantNotFound {
				t.Errorf("errors.Is(%v, ErrNotFound) = %v, want %v", err, got, tt.wantNotFound)
			}
			if got := errors.Is(err, ErrUnavailable); got != tt.wantUnavailable {
				t.Errorf("errors.Is(%v, ErrUnavailable) = %v, want %v", err, got, tt.wantUnavailable)
			}
			if !tt.wantNotFound && !errors.Is(err, tt.err) {
				t.Errorf("wrapped error %v lost the original %v", err, tt.err)
			}
		})
	}
	if wrap(bg, "op", nil) != nil {
		t.Error("wrap(nil) is not nil")
	}
}
