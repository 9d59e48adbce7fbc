package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mnistserve/app/model"
)

// pinName is the file in a model folder that pins the served model. Its
// name does not end in .json, so it is never taken for a model's metadata.
const pinName = ".pin"

// maxPinBytes bounds the pin file: PinHistory events are a few kilobytes.
const maxPinBytes = 1 << 20

// Folder is the store of a model folder: each model a weights file and its
// metadata <version>.json, the pin in .pin. Replicas on one host share it
// (a volume); a change is seen at the next poll.
type Folder struct {
	dir string

	mu    sync.Mutex
	cache map[string]folderEntry // file name of the metadata -> its last check
	loads int                    // models read and checked by Scan, for the tests
}

// folderEntry is what the last Scan found of one metadata file, and the
// stamps of the two files it was found in: while both are unchanged, the
// model is not read again.
type folderEntry struct {
	meta, weights stamp
	weightsFile   string // as the metadata names it; "" when unread
	entry         Entry
}

// stamp tells whether a file changed: same file (inode), size and time.
type stamp struct {
	info os.FileInfo
}

func (s stamp) same(fi os.FileInfo) bool {
	if s.info == nil || fi == nil {
		return s.info == nil && fi == nil
	}
	return os.SameFile(s.info, fi) && s.info.Size() == fi.Size() && s.info.ModTime().Equal(fi.ModTime()) && s.info.Mode() == fi.Mode()
}

// NewFolder returns the store of the model folder dir.
func NewFolder(dir string) *Folder {
	return &Folder{dir: dir, cache: make(map[string]folderEntry)}
}

// Dir is the folder.
func (f *Folder) Dir() string { return f.dir }

func (f *Folder) String() string { return "folder " + f.dir }

// Scan lists the metadata files of the folder. Each is checked (metadata
// and weights both regular files of bounded size, the version the file's
// own, the checksum and shapes right) only when one of its two files
// changed since the last Scan.
func (f *Folder) Scan(ctx context.Context) ([]Entry, error) {
	des, err := os.ReadDir(f.dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read model folder: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := make(map[string]bool)
	var out []Entry
	for _, de := range des {
		name := de.Name()
		if !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
			continue
		}
		seen[name] = true
		out = append(out, f.check(name))
	}
	for name := range f.cache {
		if !seen[name] {
			delete(f.cache, name)
		}
	}
	return out, nil
}

// check returns the entry of metadata file name, from the cache when
// neither file changed. f.mu is held.
func (f *Folder) check(name string) Entry {
	path := filepath.Join(f.dir, name)
	metaInfo, _ := os.Stat(path)
	old, ok := f.cache[name]
	if ok && old.meta.same(metaInfo) {
		var wInfo os.FileInfo
		if old.weightsFile != "" {
			wInfo, _ = os.Stat(filepath.Join(f.dir, old.weightsFile))
		}
		if old.weights.same(wInfo) {
			return old.entry
		}
	}
	stem := strings.TrimSuffix(name, ".json")
	fe := folderEntry{meta: stamp{metaInfo}}
	meta, err := model.ReadMeta(path)
	if err == nil {
		wpath := filepath.Join(f.dir, meta.WeightsFile)
		wInfo, _ := os.Stat(wpath)
		fe.weights, fe.weightsFile = stamp{wInfo}, meta.WeightsFile
		f.loads++
		_, _, err = model.Load(path)
	}
	if err != nil {
		meta.Version = stem // a file that fails claims nothing but its own name
	}
	fe.entry = Entry{Meta: meta, Err: err}
	f.cache[name] = fe
	return fe.entry
}

// Load reads the model version of the folder.
func (f *Folder) Load(_ context.Context, version string) (*model.Weights, model.Meta, error) {
	if model.CheckVersion(version) != nil {
		return nil, model.Meta{}, fmt.Errorf("%w: version %q in %s", model.ErrUnknownVersion, version, f.dir)
	}
	path := filepath.Join(f.dir, version+".json")
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil, model.Meta{}, fmt.Errorf("%w: version %q in %s", model.ErrUnknownVersion, version, f.dir)
	}
	return model.Load(path)
}

// Save writes a new model into the folder (model.Save).
func (f *Folder) Save(_ context.Context, w *model.Weights, meta model.Meta) (model.Meta, error) {
	return model.Save(f.dir, w, meta)
}

// ReadPin reads the pin file; a folder without one is unpinned.
func (f *Folder) ReadPin(context.Context) (Pin, error) {
	var p Pin
	path := filepath.Join(f.dir, pinName)
	js, err := model.ReadRegular(path, maxPinBytes)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("read pin: %w", err)
	}
	if err := json.Unmarshal(js, &p); err != nil {
		return p, fmt.Errorf("read pin %s: %w", path, err)
	}
	return p, nil
}

// AppendPin rewrites the pin file atomically with ev added. Two processes
// moving the pin at the same instant may lose one event; the last write
// wins, as with any file.
func (f *Folder) AppendPin(ctx context.Context, ev PinEvent) (Pin, error) {
	p, err := f.ReadPin(ctx)
	if err != nil {
		return p, err
	}
	p = appendEvent(p, ev)
	js, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return p, err
	}
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return p, fmt.Errorf("create model folder: %w", err)
	}
	if err := model.WriteAtomic(filepath.Join(f.dir, pinName), append(js, '\n')); err != nil {
		return p, fmt.Errorf("write pin: %w", err)
	}
	return p, nil
}

// Watch calls changed every interval: a folder cannot tell of its
// changes, and a Scan of an unchanged folder reads nothing but directory
// entries and file stamps.
func (f *Folder) Watch(ctx context.Context, every time.Duration, changed func()) error {
	return poll(ctx, every, changed)
}

// Elect takes the training lock file of the folder (see LockFile).
func (f *Folder) Elect(context.Context) (Lease, error) {
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create model folder: %w", err)
	}
	return LockFile(filepath.Join(f.dir, lockName))
}

// poll calls changed every interval (never when it is 0) until ctx is done.
func poll(ctx context.Context, every time.Duration, changed func()) error {
	if every <= 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			changed()
		}
	}
}
