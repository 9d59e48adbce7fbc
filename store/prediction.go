package store

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/mnistserve/app/mnist"
)

// Prediction is one stored request and answer.
type Prediction struct {
	// ID is assigned by the database when the row is created.
	ID int64 `gorm:"column:id;primaryKey;generated:identity"`
	// CreatedAt is set to the current UTC time by Create when it is zero.
	// It is indexed because retention deletes by age.
	CreatedAt time.Time `gorm:"column:created_at;not null;index"`
	// Image holds the 784 raw pixel bytes, row by row; List leaves it nil.
	Image []byte `gorm:"column:image;not null"`
	// Prediction is the predicted digit; the database refuses values outside 0..9.
	Prediction int `gorm:"column:prediction;type:integer;not null;check:chk_predictions_digit,prediction >= 0 AND prediction <= 9"`
	// Confidence is the probability of the predicted digit.
	Confidence float32 `gorm:"column:confidence;type:real;not null"`
	// Probabilities holds the probability of each digit 0..9.
	Probabilities Probabilities `gorm:"column:probabilities;type:text;not null"`
	// ModelVersion names the model that answered.
	ModelVersion string `gorm:"column:model_version;type:text;not null"`
	// Label is the true digit a user said the image shows; nil until labelled.
	// The columns are nullable so AutoMigrate can add them to a table that
	// already holds rows.
	// The partial index keeps live accuracy and the labelled filter from
	// reading every row (and its image) of a big table.
	Label *int `gorm:"column:label;type:integer;check:chk_predictions_label,label >= 0 AND label <= 9;index:idx_predictions_labelled,where:label IS NOT NULL"`
	// LabelledAt is when Label was last set to its value; nil when unlabelled.
	LabelledAt *time.Time `gorm:"column:labelled_at"`
	// Client is the name of the API key that asked; nil when keys are off or
	// the client was anonymous. Nullable so AutoMigrate can add it to a
	// table that already holds rows.
	Client *string `gorm:"column:client;type:text;index"`
	// The Idempotency-Key fields (see idempotency.go) are nil for rows
	// asked for without one. IdemKeyHash identifies the client's key
	// (KeyHash of its scope and the key), unique with the image's position
	// in its request, so two requests with one key store one set of rows.
	// Digests, not the key's text, are stored: a fixed 16 bytes compares
	// with memcmp, and the unique index they make is a fraction of the
	// size of one over two text columns, which is what keyed requests
	// cost the database beyond keyless ones.
	IdemKeyHash  []byte `gorm:"column:idem_key_hash;uniqueIndex:idx_predictions_idem_hash,priority:1,where:idem_key_hash IS NOT NULL"`
	IdemPosition *int   `gorm:"column:idem_position;type:integer;uniqueIndex:idx_predictions_idem_hash,priority:2"`
	IdemRequest  []byte `gorm:"column:idem_request_hash"` // what was asked: a digest of the route and the images
}

// TableName fixes the table name that README.md documents and existing
// databases hold, whatever GORM's naming strategy would derive.
func (Prediction) TableName() string { return "predictions" }

// Probabilities holds the ten class probabilities; it is stored as a JSON
// array in a text column so PostgreSQL and SQLite hold the same thing.
type Probabilities [mnist.Classes]float32

// Value encodes the probabilities as a JSON array.
func (p Probabilities) Value() (driver.Value, error) {
	return p.text()
}

// text is the JSON array encoding/json writes for p, byte for byte
// (json.Marshal's reflection was a visible share of a group commit's CPU):
// each value the shortest decimal that reads back as the float32, in
// exponent form below 1e-6 and from 1e21 with the exponent's leading zero
// dropped. A NaN or an infinity, which JSON cannot hold, is an error, as
// json.Marshal's.
func (p Probabilities) text() (string, error) {
	b := make([]byte, 0, 128)
	b = append(b, '[')
	for i, v := range p {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "", fmt.Errorf("encode probabilities: probability %d is %v, which JSON cannot hold", i, v)
		}
		if i > 0 {
			b = append(b, ',')
		}
		format := byte('f')
		if abs := float32(math.Abs(f)); abs != 0 && (abs < 1e-6 || abs >= 1e21) { // compared as float32, as encoding/json does
			format = 'e'
		}
		b = strconv.AppendFloat(b, f, format, -1, 32)
		if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return string(append(b, ']')), nil
}

// Scan decodes a JSON array of exactly ten numbers.
func (p *Probabilities) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("decode probabilities: unsupported type %T", src)
	}
	var vs []float32
	if err := json.Unmarshal(b, &vs); err != nil {
		return fmt.Errorf("decode probabilities: %w", err)
	}
	if len(vs) != len(p) {
		return fmt.Errorf("decode probabilities: got %d values, want %d", len(vs), len(p))
	}
	copy(p[:], vs)
	return nil
}

// listColumns are the columns List reads: all but the image, which list
// responses never show and which is most of a row's size.
var listColumns = []string{"id", "created_at", "prediction", "confidence", "probabilities", "model_version", "label", "labelled_at", "client"}

// Create stores ps in one transaction and fills in each ID (and CreatedAt
// when zero); it returns only after the commit, so success means stored.
// Concurrent calls are committed together (see commit.go): all of ps is
// committed or none of it, whatever the other calls in its group hold.
func (s *Store) Create(ctx context.Context, ps []*Prediction) error {
	if len(ps) == 0 {
		return nil
	}
	for i, p := range ps {
		if p == nil {
			return fmt.Errorf("create predictions: prediction %d is nil", i)
		}
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	return s.commits.submit(ctx, ps)
}

// Get returns the prediction with the given id, or an error wrapping ErrNotFound.
func (s *Store) Get(ctx context.Context, id int64) (*Prediction, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var p Prediction
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&p).Error; err != nil {
		return nil, wrap(ctx, fmt.Sprintf("get prediction %d", id), err)
	}
	p.normalise()
	return &p, nil
}

// ListQuery selects the predictions List returns.
type ListQuery struct {
	// Limit is the most rows returned; it must be positive.
	Limit int
	// BeforeID, when positive, keeps only ids below it (the next page).
	BeforeID int64
	// Labelled, when set, keeps only labelled (true) or unlabelled (false) rows.
	Labelled *bool
	// Wrong, when set, keeps only labelled rows whose label differs from
	// (true) or equals (false) the prediction.
	Wrong *bool
	// Client, when set, keeps only the rows made by that key.
	Client *string
}

// List returns the predictions q selects, newest first, without their images.
func (s *Store) List(ctx context.Context, q ListQuery) ([]Prediction, error) {
	if q.Limit <= 0 {
		return nil, fmt.Errorf("list predictions: limit %d must be positive", q.Limit)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	db := s.db.WithContext(ctx).Select(listColumns).Order("id DESC").Limit(q.Limit)
	if q.BeforeID > 0 {
		db = db.Where("id < ?", q.BeforeID)
	}
	switch {
	case q.Labelled == nil:
	case *q.Labelled:
		db = db.Where("label IS NOT NULL")
	default:
		db = db.Where("label IS NULL")
	}
	switch {
	case q.Wrong == nil:
	case *q.Wrong:
		db = db.Where("label IS NOT NULL AND label <> prediction")
	default:
		db = db.Where("label IS NOT NULL AND label = prediction")
	}
	if q.Client != nil {
		db = db.Where("client = ?", *q.Client)
	}
	ps := []Prediction{}
	if err := db.Find(&ps).Error; err != nil {
		return nil, wrap(ctx, "list predictions", err)
	}
	for i := range ps {
		ps[i].normalise()
	}
	return ps, nil
}

// normalise reports times in UTC whatever the driver read back.
func (p *Prediction) normalise() {
	p.CreatedAt = p.CreatedAt.UTC()
	if p.LabelledAt != nil {
		t := p.LabelledAt.UTC()
		p.LabelledAt = &t
	}
}

// Count returns the number of stored predictions.
func (s *Store) Count(ctx context.Context) (int64, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var n int64
	err := s.db.WithContext(ctx).Model(&Prediction{}).Count(&n).Error
	return n, wrap(ctx, "count predictions", err)
}
