package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Idempotency-Key support. The key of a request is stored on its rows
// (idem_key_hash: KeyHash of whose key it is and the key; idem_position:
// the image's place in a batch; idem_request_hash: a digest of what was
// asked), under a unique index on (idem_key_hash, idem_position) where a
// key is set. A key therefore lives exactly as long as its rows (retention
// deletes both), and replicas sharing one database agree on it: of two
// requests racing with one key, one INSERT wins and the other finds its
// rows taken.
//
// Keyed rows are inserted with ON CONFLICT DO NOTHING inside the group
// commit, so a taken key fails neither the statement nor the other
// requests of its group: the rows RETURNING does not name were not
// inserted, and their call is answered ErrKeyUsed, for the caller to
// replay the winner's rows (ReadKeyed). PostgreSQL makes a conflicting
// insert wait for the transaction holding the other row, so by then the
// winner's rows are committed and readable.

// ErrKeyUsed is returned by Create when the rows' idempotency key is stored
// already (by an earlier request, or by one racing on another replica);
// nothing of that call was stored.
var ErrKeyUsed = errors.New("idempotency key already used")

// KeyHashSize is the length of KeyHash's digests.
const KeyHashSize = 16

// KeyHash is what is stored of an Idempotency-Key: the first 16 bytes of
// the SHA-256 of the client's scope (whose key it is) and the key. Two
// distinct keys meet only by a 128-bit collision.
func KeyHash(scope, key string) []byte {
	sum := KeyHashArray(scope, key)
	return sum[:]
}

// KeyHashArray is KeyHash as an array, which costs its caller no
// allocation (a map key, a field of a struct already allocated).
func KeyHashArray(scope, key string) [KeyHashSize]byte {
	// A key is at most 64 bytes and a scope a client's name or address:
	// the message fits the stack buffer, and sha256.Sum256 hashes it
	// where a hash.Hash would be allocated.
	var buf [256]byte
	msg := append(append(append(buf[:0], scope...), 0), key...)
	sum := sha256.Sum256(msg)
	return [KeyHashSize]byte(sum[:KeyHashSize])
}

// keyed reports whether r carries an idempotency key.
func keyed(r *Prediction) bool { return r.IdemKeyHash != nil }

// keyedColumns are insertColumns plus the idempotency columns.
var keyedColumns = append(slices.Clip(insertColumns), "idem_key_hash", "idem_position", "idem_request_hash")

// onConflict is the tail of a keyed INSERT that skips the rows whose key
// is taken. Naming the arbiter index spares PostgreSQL the pre-check of
// every other unique index (the primary key).
const onConflict = ` ON CONFLICT ("idem_key_hash","idem_position") WHERE "idem_key_hash" IS NOT NULL DO NOTHING`

// keyedInserts caches the keyed INSERT text per row count, for each
// placeholder style (first index 1: PostgreSQL's $n) and each form
// (second index 1: optimistic, without ON CONFLICT).
var keyedInserts [2][2]sync.Map

// insertKeyed returns the INSERT of n keyed rows: optimistic, a plain
// INSERT that fails as a whole when a key is taken; else one with
// onConflict.
func (st *statements) insertKeyed(n int, optimistic bool) string {
	cache := &keyedInserts[b2i(st.dollar)][b2i(optimistic)]
	if q, ok := cache.Load(n); ok {
		return q.(string)
	}
	tail := onConflict + ` RETURNING "id"`
	if optimistic {
		tail = ` RETURNING "id"`
	}
	q, _ := cache.LoadOrStore(n, insertSQL(keyedColumns, n, st.dollar, tail))
	return q.(string)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// insertKeyedAll writes rows, some keyed, in one transaction (none when a
// single statement does): the plain rows as insertAll does, the keyed ones
// with insertKeyedRows. Keyed rows whose key is taken keep ID 0.
//
// On PostgreSQL the rows first go in with plain INSERTs. A row inserted
// with ON CONFLICT costs PostgreSQL about as much CPU again as the row
// itself (speculative insertion: a pre-check of the arbiter index, the
// heap insert, then its confirmation), and a key is nearly always fresh:
// taken only when a client or proxy retries. A plain INSERT that meets a
// taken key fails whole (a unique violation; nothing of it is stored),
// and only then is the group written again with ON CONFLICT.
func (s *Store) insertKeyedAll(ctx context.Context, rows []*Prediction) error {
	if s.driver == "postgres" {
		err := s.insertKeyedGroup(ctx, rows, true)
		if !isUniqueViolation(err) {
			return err
		}
	}
	return s.insertKeyedGroup(ctx, rows, false)
}

// insertKeyedGroup is one attempt of insertKeyedAll: optimistic, keyed
// rows go in with a plain INSERT, which fails on a taken key.
func (s *Store) insertKeyedGroup(ctx context.Context, rows []*Prediction, optimistic bool) error {
	var plain, withKey []*Prediction
	for _, r := range rows {
		if keyed(r) {
			withKey = append(withKey, r)
		} else {
			plain = append(plain, r)
		}
	}
	type stmt struct {
		rows  []*Prediction
		keyed bool
	}
	var stmts []stmt
	for chunk := range slices.Chunk(plain, insertChunk) {
		stmts = append(stmts, stmt{chunk, false})
	}
	for chunk := range slices.Chunk(withKey, insertChunk) {
		stmts = append(stmts, stmt{chunk, true})
	}
	run := func(q querier, st stmt) error {
		if st.keyed {
			return s.insertKeyedRows(ctx, q, st.rows, optimistic)
		}
		return s.insertRows(ctx, q, st.rows)
	}
	if len(stmts) == 1 {
		return run(s.sqlDB, stmts[0])
	}
	tx, err := s.sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if err := run(tx, st); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// insertKeyedRows writes keyed rows with one INSERT (optimistic: a plain
// one, which fails on a taken key; else with onConflict) and sets the ID
// of each row inserted; a row whose (key, position) is taken keeps ID 0. RETURNING gives only the ids: when every
// row went in (the common case, a fresh key) they are assigned in VALUES
// order as insertRows does, at no extra cost; only when some key was taken
// does a second query tell which rows the ids belong to.
func (s *Store) insertKeyedRows(ctx context.Context, q querier, rows []*Prediction, optimistic bool) error {
	now := time.Now().UTC().Truncate(time.Microsecond)
	args := make([]any, 0, len(keyedColumns)*len(rows))
	for _, r := range rows {
		if r.CreatedAt.IsZero() {
			r.CreatedAt = now
		}
		r.ID = 0
		probs, err := r.Probabilities.Value()
		if err != nil {
			return err
		}
		args = append(args, r.CreatedAt, r.Image, r.Prediction, r.Confidence, probs, r.ModelVersion,
			nullable(r.Client), r.IdemKeyHash, nullable(r.IdemPosition), r.IdemRequest)
	}
	res, err := s.stmts.query(ctx, q, len(rows), s.stmts.insertKeyed(len(rows), optimistic), args)
	if err != nil {
		return err
	}
	ids := make([]int64, 0, len(rows))
	for res.Next() {
		var id int64
		if err := res.Scan(&id); err != nil {
			res.Close()
			return err
		}
		ids = append(ids, id)
	}
	res.Close()
	if err := res.Err(); err != nil {
		return err
	}
	slices.Sort(ids) // ids follow VALUES order; RETURNING's order is not promised
	switch {
	case len(ids) == len(rows):
		for i, r := range rows {
			r.ID = ids[i]
		}
		return nil
	case len(ids) == 0:
		return nil
	}
	return s.matchKeyed(ctx, q, rows, ids)
}

// nullable is *p, or NULL when p is nil.
func nullable[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// matchKeyed sets the ID of each of rows that the INSERT stored as one of
// ids, found by its (scope, key, position); the others keep ID 0.
func (s *Store) matchKeyed(ctx context.Context, q querier, rows []*Prediction, ids []int64) error {
	type identity struct {
		key string // IdemKeyHash
		pos int
	}
	var b strings.Builder
	b.WriteString(`SELECT "id","idem_key_hash","idem_position" FROM "predictions" WHERE "id" IN (`)
	args := make([]any, len(ids))
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		if s.stmts.dollar {
			b.WriteString("$" + strconv.Itoa(i+1))
		} else {
			b.WriteByte('?')
		}
		args[i] = id
	}
	b.WriteByte(')')
	res, err := q.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return err
	}
	defer res.Close()
	stored := make(map[identity]int64, len(ids))
	for res.Next() {
		var (
			id  int64
			key []byte
			pos sql.NullInt64
		)
		if err := res.Scan(&id, &key, &pos); err != nil {
			return err
		}
		stored[identity{string(key), int(pos.Int64)}] = id
	}
	if err := res.Err(); err != nil {
		return err
	}
	for _, r := range rows {
		k := identity{key: string(r.IdemKeyHash)}
		if r.IdemPosition != nil {
			k.pos = *r.IdemPosition
		}
		if id, ok := stored[k]; ok {
			r.ID = id
			delete(stored, k) // a second row of one identity in one INSERT was skipped
		}
	}
	return nil
}

// settle turns the outcome of a committed group into the answer of one of
// its calls: a keyed call none of whose rows were inserted lost its key to
// another request (ErrKeyUsed). A call only some of whose rows went in (a
// racing request with the same key and a different batch) has those
// removed, so that a request is stored whole or not at all.
func (c *committer) settle(cl *call, err error) error {
	if err != nil || len(cl.rows) == 0 || !keyed(cl.rows[0]) {
		return err
	}
	var stored []int64
	for _, r := range cl.rows {
		if r.ID != 0 {
			stored = append(stored, r.ID)
		}
	}
	if len(stored) == len(cl.rows) {
		return nil
	}
	if len(stored) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), defaultOpTimeout)
		defer cancel()
		if err := c.s.db.WithContext(ctx).Where("id IN ?", stored).Delete(&Prediction{}).Error; err != nil {
			return wrap(ctx, "create predictions: remove the rows of a request whose key was taken", err)
		}
	}
	for _, r := range cl.rows {
		r.ID = 0
	}
	return fmt.Errorf("create predictions: %w", ErrKeyUsed)
}

// ReadKeyed returns the rows stored under keyHash (KeyHash of a client's
// scope and key), in their order within the request (position), for a
// repeated request to replay; none when the key is not stored (never
// used, or its rows were deleted).
func (s *Store) ReadKeyed(ctx context.Context, keyHash []byte) ([]Prediction, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	ps := []Prediction{}
	err := s.db.WithContext(ctx).Select(append(slices.Clip(listColumns), "idem_key_hash", "idem_position", "idem_request_hash")).
		Where("idem_key_hash = ?", keyHash).Order("idem_position").Find(&ps).Error
	if err != nil {
		return nil, wrap(ctx, "read predictions by idempotency key", err)
	}
	for i := range ps {
		ps[i].normalise()
	}
	return ps, nil
}
