package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The group commit's INSERT is written here rather than by GORM's Create:
// on the serving path GORM's reflection, callbacks and its logger's
// rendering of every statement (done even when nothing is logged) cost
// more CPU per row than the database spends storing it. The statement is
// the one GORM would send, a multi-row INSERT ... RETURNING id, built once
// per row count and prepared once: by pgx on each connection (it caches
// statements by their text), and for SQLite here (statements.query).

// insertColumns are the columns a new row is written with: id is
// generated, label and labelled_at start NULL. insertRow lists the values
// in this order.
var insertColumns = []string{"created_at", "image", "prediction", "confidence", "probabilities", "model_version", "client"}

// querier runs a statement on the pool or in a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// statements caches the INSERT text for each row count.
type statements struct {
	dollar bool     // PostgreSQL's $1 placeholders, else SQLite's ?
	byRows sync.Map // int -> string
	// prepare, when set (SQLite), keeps each INSERT of at most
	// preparedRows rows prepared: the SQLite driver parses and compiles a
	// statement anew on every call unless it is prepared, which cost more
	// than the insert itself. PostgreSQL's driver caches its prepared
	// statements by text on each connection already.
	prepare  *sql.DB
	prepared sync.Map // string -> *sql.Stmt
}

// preparedRows bounds the INSERTs kept prepared: group commits are a few
// dozen rows; a larger one is compiled for its call alone.
const preparedRows = 64

// query runs the INSERT text of n rows with args on q, through its
// prepared statement when st keeps one.
func (st *statements) query(ctx context.Context, q querier, n int, text string, args []any) (*sql.Rows, error) {
	if st.prepare == nil || n > preparedRows {
		return q.QueryContext(ctx, text, args...)
	}
	var ps *sql.Stmt
	tx, inTx := q.(*sql.Tx)
	if v, ok := st.prepared.Load(text); ok {
		ps = v.(*sql.Stmt)
	} else if inTx {
		// Preparing on the pool needs a connection of its own, and SQLite
		// has one, held by the transaction: run it unprepared this once.
		return q.QueryContext(ctx, text, args...)
	} else {
		p, err := st.prepare.PrepareContext(ctx, text)
		if err != nil {
			return nil, err
		}
		v, loaded := st.prepared.LoadOrStore(text, p)
		if loaded {
			_ = p.Close()
		}
		ps = v.(*sql.Stmt)
	}
	if inTx {
		ps = tx.StmtContext(ctx, ps)
	}
	return ps.QueryContext(ctx, args...)
}

// close closes the prepared statements, once nothing runs them.
func (st *statements) close() {
	st.prepared.Range(func(k, v any) bool {
		_ = v.(*sql.Stmt).Close()
		st.prepared.Delete(k)
		return true
	})
}

// insert returns the INSERT of n rows.
func (st *statements) insert(n int) string {
	if q, ok := st.byRows.Load(n); ok {
		return q.(string)
	}
	q, _ := st.byRows.LoadOrStore(n, insertSQL(insertColumns, n, st.dollar, ` RETURNING "id"`))
	return q.(string)
}

// insertSQL writes an INSERT of n rows of columns into predictions, with
// PostgreSQL's $n placeholders when dollar is set (else ?), followed by
// tail.
func insertSQL(columns []string, n int, dollar bool, tail string) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO "predictions" ("` + strings.Join(columns, `","`) + `") VALUES `)
	arg := 0
	for r := range n {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := range columns {
			if c > 0 {
				b.WriteByte(',')
			}
			arg++
			if dollar {
				b.WriteString("$" + strconv.Itoa(arg))
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	b.WriteString(tail)
	return b.String()
}

// insertRows writes rows with one INSERT and sets each row's ID (and its
// CreatedAt when zero, to now in UTC to the microsecond, as GORM's
// NowFunc does).
func (s *Store) insertRows(ctx context.Context, q querier, rows []*Prediction) error {
	now := time.Now().UTC().Truncate(time.Microsecond)
	args := make([]any, 0, len(insertColumns)*len(rows))
	for _, r := range rows {
		if r.CreatedAt.IsZero() {
			r.CreatedAt = now
		}
		probs, err := r.Probabilities.Value()
		if err != nil {
			return err
		}
		var client any // nil is NULL
		if r.Client != nil {
			client = *r.Client
		}
		args = append(args, r.CreatedAt, r.Image, r.Prediction, r.Confidence, probs, r.ModelVersion, client)
	}
	res, err := s.stmts.query(ctx, q, len(rows), s.stmts.insert(len(rows)), args)
	if err != nil {
		return err
	}
	defer res.Close()
	ids := make([]int64, 0, len(rows))
	for res.Next() {
		var id int64
		if err := res.Scan(&id); err != nil {
			return err
		}
		ids = append(ids, id)
	}
	if err := res.Err(); err != nil {
		return err
	}
	if len(ids) != len(rows) {
		return fmt.Errorf("insert returned %d ids for %d rows", len(ids), len(rows))
	}
	// Both databases number the rows of one INSERT in the order of its
	// VALUES, but neither promises the order RETURNING reports them in.
	slices.Sort(ids)
	for i, r := range rows {
		r.ID = ids[i]
	}
	return nil
}

// insertAll writes rows in one transaction of INSERTs of at most
// insertChunk rows each; a single INSERT needs no BEGIN and COMMIT, whose
// round trips under load cost more than the insert itself.
func (s *Store) insertAll(ctx context.Context, rows []*Prediction) error {
	if slices.ContainsFunc(rows, keyed) {
		return s.insertKeyedAll(ctx, rows)
	}
	if len(rows) <= insertChunk {
		return s.insertRows(ctx, s.sqlDB, rows)
	}
	tx, err := s.sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for chunk := range slices.Chunk(rows, insertChunk) {
		if err := s.insertRows(ctx, tx, chunk); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}
