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
// in meta's version, file name, checksum, architecture and parameter count
// and returns the completed metadata.
func Save(dir string, w *Weights, meta Meta) (Meta, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return meta, fmt.Errorf("create model folder: %w", err)
	}
	var buf bytes.Buffer
	if err := encodeWeights(&buf, w); err != nil {
		return meta, err
	}
	sum := sha256.Sum256(buf.Bytes())
	if meta.CreatedAt.IsZero() {
		meta.CreatedAt = time.Now().UTC()
	}
	meta.Version = uniqueVersion(dir, meta.CreatedAt)
	meta.WeightsFile = meta.Version + ".weights"
	meta.WeightsSHA256 = hex.EncodeToString(sum[:])
	meta.Architecture = Architecture
	meta.Parameters = Parameters
	if err := writeAtomic(filepath.Join(dir, meta.WeightsFile), buf.Bytes()); err != nil {
		return meta, err
	}
	js, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return meta, err
	}
	if err := writeAtomic(filepath.Join(dir, meta.Version+".json"), append(js, '\n')); err != nil {
		return meta, err
	}
	return meta, nil
}

// uniqueVersion names a model by its creation time, with a suffix in the
// rare case that name is taken.
func uniqueVersion(dir string, t time.Time) string {
	v := t.UTC().Format("20060102T150405.000Z")
	for i := 2; ; i++ {
		if _, err := os.Stat(filepath.Join(dir, v+".json")); errors.Is(err, os.ErrNotExist) {
			return v
		}
		v = fmt.Sprintf("%s-%d", t.UTC().Format("20060102T150405.000Z"), i)
	}
}

// writeAtomic writes data to path through a temporary file in the same
// folder, synced before the rename, so a crash leaves either the old file
// or the whole new one.
func writeAtomic(path string, data []byte) (err error) {
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
// weights file against its checksum and the network's shapes.
func Load(metaPath string) (*Weights, Meta, error) {
	var meta Meta
	js, err := os.ReadFile(metaPath)
	if err != nil {
		return nil, meta, err
	}
	if err := json.Unmarshal(js, &meta); err != nil {
		return nil, meta, fmt.Errorf("%s: bad metadata: %v: %w", metaPath, err, ErrCorrupt)
	}
	if meta.WeightsFile == "" || meta.WeightsSHA256 == "" || strings.ContainsAny(meta.WeightsFile, `/\`) {
		return nil, meta, fmt.Errorf("%s: metadata names no weights file or checksum: %w", metaPath, ErrCorrupt)
	}
	wpath := filepath.Join(filepath.Dir(metaPath), meta.WeightsFile)
	data, err := os.ReadFile(wpath)
	if err != nil {
		return nil, meta, err
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != meta.WeightsSHA256 {
		return nil, meta, fmt.Errorf("%s: checksum does not match %s: %w", wpath, filepath.Base(metaPath), ErrCorrupt)
	}
	w, err := decodeWeights(data)
	if err != nil {
		return nil, meta, fmt.Errorf("%s: %w", wpath, err)
	}
	return w, meta, nil
}
