package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// weightsMagic opens every weights file, followed by a format version.
const weightsMagic = "MNISTCNN"

const weightsFormat = 1

// ErrCorrupt is wrapped by errors about a model file that is damaged or not
// a model of this network.
var ErrCorrupt = errors.New("corrupt or foreign model file")

// Save writes w as a new model in dir: a weights file and its metadata
// <version>.json, each written atomically (temp file, fsync, rename), the
// metadata last so that a model is visible only once complete. It fills
// in meta's file name, checksum, architecture and parameter count, and its
// version unless meta names one (as import does; the error then wraps
// ErrVersionTaken when dir holds that version already), and returns the
// completed metadata.
func Save(dir string, w *Weights, meta Meta) (Meta, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return meta, fmt.Errorf("create model folder: %w", err)
	}
	data, err := Complete(w, &meta)
	if err != nil {
		return meta, err
	}
	if meta.Version == "" {
		meta.Version = uniqueVersion(dir, meta.CreatedAt)
	} else if _, err := os.Lstat(filepath.Join(dir, meta.Version+".json")); err == nil {
		return meta, fmt.Errorf("%w: %s in %s", ErrVersionTaken, meta.Version, dir)
	}
	meta.WeightsFile = meta.Version + ".weights"
	if err := WriteAtomic(filepath.Join(dir, meta.WeightsFile), data); err != nil {
		return meta, err
	}
	js, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return meta, err
	}
	if err := WriteAtomic(filepath.Join(dir, meta.Version+".json"), append(js, '\n')); err != nil {
		return meta, err
	}
	return meta, nil
}

// Complete encodes w and fills in what every store records beside it: the
// checksum, architecture, parameter count and, when unset, the creation
// time. It checks a version meta already names (see CheckVersion). It
// returns the encoded weights.
func Complete(w *Weights, meta *Meta) ([]byte, error) {
	if meta.Version != "" {
		if err := CheckVersion(meta.Version); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	if err := encodeWeights(&buf, w); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(buf.Bytes())
	if meta.CreatedAt.IsZero() {
		meta.CreatedAt = time.Now().UTC()
	}
	meta.WeightsSHA256 = hex.EncodeToString(sum[:])
	meta.Architecture = Architecture
	meta.Parameters = Parameters
	return buf.Bytes(), nil
}

// NewVersion names a model created at t: its time to the millisecond,
// which sorts as it reads. Stores add a suffix when it is taken.
func NewVersion(t time.Time, attempt int) string {
	v := t.UTC().Format("20060102T150405.000Z")
	if attempt > 1 {
		v = fmt.Sprintf("%s-%d", v, attempt)
	}
	return v
}

// CheckVersion refuses a version that could not name a file of its own
// in a model folder: 1 to 64 letters, digits, '.', '_' or '-', not
// starting with '.'.
func CheckVersion(v string) error {
	if v == "" || len(v) > 64 || v[0] == '.' {
		return fmt.Errorf("bad model version %q: want 1 to 64 letters, digits, '.', '_' or '-', not starting with '.': %w", v, ErrCorrupt)
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("bad model version %q: want 1 to 64 letters, digits, '.', '_' or '-': %w", v, ErrCorrupt)
		}
	}
	return nil
}

// uniqueVersion names a model by its creation time, with a suffix in the
// rare case that name is taken.
func uniqueVersion(dir string, t time.Time) string {
	for i := 1; ; i++ {
		v := NewVersion(t, i)
		if _, err := os.Lstat(filepath.Join(dir, v+".json")); errors.Is(err, os.ErrNotExist) {
			return v
		}
	}
}

// WriteAtomic writes data to path through a temporary file in the same
// folder, synced before the rename, so a crash leaves either the old file
// or the whole new one.
func WriteAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("rename to %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync() // make the rename durable; not every filesystem supports it
		d.Close()
	}
	return nil
}

// encodeWeights writes the magic, the format, then each parameter as its
// name, its dimensions and its little-endian float32 values.
func encodeWeights(wr io.Writer, w *Weights) error {
	var b bytes.Buffer
	b.WriteString(weightsMagic)
	le := binary.LittleEndian
	b.Write(le.AppendUint32(nil, weightsFormat))
	ps := w.tensors()
	b.Write(le.AppendUint32(nil, uint32(len(ps))))
	for _, p := range ps {
		b.Write(le.AppendUint32(nil, uint32(len(p.name))))
		b.WriteString(p.name)
		b.Write(le.AppendUint32(nil, uint32(len(p.shape))))
		for _, d := range p.shape {
			b.Write(le.AppendUint32(nil, uint32(d)))
		}
		for _, v := range p.data {
			b.Write(le.AppendUint32(nil, math.Float32bits(v)))
		}
	}
	_, err := wr.Write(b.Bytes())
	return err
}

// decodeWeights parses a weights file, refusing anything whose parameters
// are not exactly those of this network.
func decodeWeights(data []byte) (*Weights, error) {
	r := bytes.NewReader(data)
	magic := make([]byte, len(weightsMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != weightsMagic {
		return nil, fmt.Errorf("not a weights file (bad magic): %w", ErrCorrupt)
	}
	var format, count uint32
	if err := binary.Read(r, binary.LittleEndian, &format); err != nil || format != weightsFormat {
		return nil, fmt.Errorf("unknown weights format %d: %w", format, ErrCorrupt)
	}
	w := NewWeights(0)
	want := w.tensors()
	if err := binary.Read(r, binary.LittleEndian, &count); err != nil || int(count) != len(want) {
		return nil, fmt.Errorf("%d parameter tensors, want %d: %w", count, len(want), ErrCorrupt)
	}
	for _, p := range want {
		var n uint32
		if err := binary.Read(r, binary.LittleEndian, &n); err != nil || n > 64 {
			return nil, fmt.Errorf("truncated or bad tensor name: %w", ErrCorrupt)
		}
		name := make([]byte, n)
		if _, err := io.ReadFull(r, name); err != nil || string(name) != p.name {
			return nil, fmt.Errorf("tensor %q, want %q: %w", name, p.name, ErrCorrupt)
		}
		var dims uint32
		if err := binary.Read(r, binary.LittleEndian, &dims); err != nil || int(dims) != len(p.shape) {
			return nil, fmt.Errorf("%s: %d dimensions, want %d: %w", p.name, dims, len(p.shape), ErrCorrupt)
		}
		for i := range p.shape {
			var d uint32
			if err := binary.Read(r, binary.LittleEndian, &d); err != nil || int(d) != p.shape[i] {
				return nil, fmt.Errorf("%s: dimension %d is %d, want %d: %w", p.name, i, d, p.shape[i], ErrCorrupt)
			}
		}
		raw := make([]byte, 4*len(p.data))
		if _, err := io.ReadFull(r, raw); err != nil {
			return nil, fmt.Errorf("%s: truncated values: %w", p.name, ErrCorrupt)
		}
		for i := range p.data {
			v := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("%s: value %d is %v: %w", p.name, i, v, ErrCorrupt)
			}
			p.data[i] = v
		}
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%d bytes after the last tensor: %w", r.Len(), ErrCorrupt)
	}
	return w, nil
}

// Load reads the model whose metadata file is metaPath, checking the
// weights file against its checksum and the network's shapes. Neither
// file is read unless it is a regular file of a plausible size, so a
// symlink to a device or a FIFO, or a huge file, is refused at once.
func Load(metaPath string) (*Weights, Meta, error) {
	meta, err := ReadMeta(metaPath)
	if err != nil {
		return nil, meta, err
	}
	wpath := filepath.Join(filepath.Dir(metaPath), meta.WeightsFile)
	data, err := ReadRegular(wpath, WeightsBytes())
	if errors.Is(err, fs.ErrNotExist) {
		// The metadata names weights that are not there: an incomplete
		// model, not a failure of the store.
		return nil, meta, fmt.Errorf("%s names the weights file %s, which is missing: %w", filepath.Base(metaPath), meta.WeightsFile, ErrCorrupt)
	}
	if err != nil {
		return nil, meta, err
	}
	w, err := DecodeWeights(data, meta.WeightsSHA256)
	if err != nil {
		return nil, meta, fmt.Errorf("%s (of %s): %w", wpath, filepath.Base(metaPath), err)
	}
	return w, meta, nil
}

// ReadMeta reads and checks the metadata file path: a small regular file
// of JSON naming a weights file and its checksum, whose version is the
// file's own name (<version>.json), so that no second file can claim a
// version that is not its own.
func ReadMeta(path string) (Meta, error) {
	var meta Meta
	js, err := ReadRegular(path, MaxMetaBytes)
	if err != nil {
		return meta, err
	}
	if err := json.Unmarshal(js, &meta); err != nil {
		return meta, fmt.Errorf("%s: bad metadata: %v: %w", path, err, ErrCorrupt)
	}
	if meta.WeightsFile == "" || meta.WeightsSHA256 == "" || strings.ContainsAny(meta.WeightsFile, `/\`) {
		return meta, fmt.Errorf("%s: metadata names no weights file or checksum: %w", path, ErrCorrupt)
	}
	if stem := strings.TrimSuffix(filepath.Base(path), ".json"); meta.Version != stem {
		return meta, fmt.Errorf("%s: metadata claims version %q, not its file's own %q: %w", path, meta.Version, stem, ErrCorrupt)
	}
	return meta, nil
}

// DecodeWeights checks data against the checksum sha (hex SHA-256) and
// parses it, refusing anything that is not exactly this network's weights.
func DecodeWeights(data []byte, sha string) (*Weights, error) {
	if len(data) != WeightsBytes() {
		return nil, fmt.Errorf("%d bytes of weights, want %d: %w", len(data), WeightsBytes(), ErrCorrupt)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != sha {
		return nil, fmt.Errorf("weights do not match their checksum: %w", ErrCorrupt)
	}
	return decodeWeights(data)
}
