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
// more CPU per row than the database spends storing it.
//
// On PostgreSQL a plain group is one statement whatever its row count: the
// columns travel as seven arrays that unnest turns back into rows
// (pgInsert), so the server parses and plans one statement per connection,
// once, and the client binds seven parameters instead of seven per row. On
// SQLite, which has no arrays, it is the multi-row INSERT ... VALUES ...
// RETURNING id GORM would send, its text built once per row count (the
// driver compiles a statement on every query, prepared or not, so keeping
// it prepared would not help).

// insertColumns are the columns a new row is written with: id is
// generated, label and labelled_at start NULL. insertRow lists the values
// in this order.
var insertColumns = []string{"created_at", "image", "prediction", "confidence", "probabilities", "model_version", "client"}

// pgInsert stores the rows whose columns are the arrays $1..$7 (one element
// per row), numbering them in array order: ORDER BY the ordinality makes
// the identity column's values follow it, as a VALUES list's do.
const pgInsert = `INSERT INTO "predictions" ("created_at","image","prediction","confidence","probabilities","model_version","client")
SELECT c, i, p, f, pr, v, cl
FROM unnest($1::timestamptz[], $2::bytea[], $3::integer[], $4::real[], $5::text[], $6::text[], $7::text[])
	WITH ORDINALITY AS t(c, i, p, f, pr, v, cl, n)
ORDER BY n
RETURNING "id"`

// querier runs a statement on the pool or in a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// statements caches the INSERT text for each row count.
type statements struct {
	dollar bool     // PostgreSQL's $1 placeholders, else SQLite's ?
	byRows sync.Map // int -> string
}

// insert returns the INSERT of n rows.
func (st *statements) insert(n int) string {
	if q, ok := st.byRows.Load(n); ok {
		return q.(string)
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO "predictions" (`)
	for i, c := range insertColumns {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + c + `"`)
	}
	b.WriteString(") VALUES ")
	arg := 0
	for r := range n {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := range insertColumns {
			if c > 0 {
				b.WriteByte(',')
			}
			arg++
			if st.dollar {
				b.WriteString("$" + strconv.Itoa(arg))
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	b.WriteString(` RETURNING "id"`)
	q, _ := st.byRows.LoadOrStore(n, b.String())
	return q.(string)
}

// insertRows writes rows with one INSERT and sets each row's ID (and its
// CreatedAt when zero, to now in UTC to the microsecond, as GORM's
// NowFunc does).
func (s *Store) insertRows(ctx context.Context, q querier, rows []*Prediction) error {
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, r := range rows {
		if r.CreatedAt.IsZero() {
			r.CreatedAt = now
		}
	}
	var (
		res *sql.Rows
		err error
	)
	if s.stmts.dollar {
		res, err = insertUnnest(ctx, q, rows)
	} else {
		res, err = s.insertValues(ctx, q, rows)
	}
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
	// rows, but neither promises the order RETURNING reports them in.
	slices.Sort(ids)
	for i, r := range rows {
		r.ID = ids[i]
	}
	return nil
}

// insertValues runs the VALUES INSERT of rows (SQLite's).
func (s *Store) insertValues(ctx context.Context, q querier, rows []*Prediction) (*sql.Rows, error) {
	args := make([]any, 0, len(insertColumns)*len(rows))
	for _, r := range rows {
		probs, err := r.Probabilities.Value()
		if err != nil {
			return nil, err
		}
		var client any // nil is NULL
		if r.Client != nil {
			client = *r.Client
		}
		args = append(args, r.CreatedAt, r.Image, r.Prediction, r.Confidence, probs, r.ModelVersion, client)
	}
	return q.QueryContext(ctx, s.stmts.insert(len(rows)), args...)
}

// insertUnnest runs pgInsert for rows (PostgreSQL's INSERT).
func insertUnnest(ctx context.Context, q querier, rows []*Prediction) (*sql.Rows, error) {
	var (
		created = make([]time.Time, len(rows))
		images  = make([][]byte, len(rows))
		digits  = make([]int64, len(rows)) // pgx refuses what int4 cannot hold
		conf    = make([]float32, len(rows))
		probs   = make([]string, len(rows))
		version = make([]string, len(rows))
		client  = make([]*string, len(rows)) // nil elements are NULL
	)
	for i, r := range rows {
		p, err := r.Probabilities.text()
		if err != nil {
			return nil, err
		}
		created[i], images[i], digits[i], conf[i] = r.CreatedAt, r.Image, int64(r.Prediction), r.Confidence
		probs[i], version[i], client[i] = p, r.ModelVersion, r.Client
	}
	return q.QueryContext(ctx, pgInsert, created, images, digits, conf, probs, version, client)
}

// insertAll writes rows in one transaction: on PostgreSQL one statement
// whatever their count; on SQLite INSERTs of at most insertChunk rows each.
// A single INSERT needs no BEGIN and COMMIT, whose round trips under load
// cost more than the insert itself.
func (s *Store) insertAll(ctx context.Context, rows []*Prediction) error {
	if slices.ContainsFunc(rows, keyed) {
		return s.insertKeyedAll(ctx, rows)
	}
	if len(rows) <= insertChunk || s.stmts.dollar {
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
