package keys

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestAddStoresOnlyTheHashAndTheTokenWorks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	admin, err := Add(path, "ops", RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := Add(path, "alice", RolePredict)
	if err != nil {
		t.Fatal(err)
	}
	if admin == alice || !strings.HasPrefix(admin, tokenPrefix) || len(admin) < 40 {
		t.Fatalf("tokens %q and %q: want two different long random tokens", admin, alice)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), admin) || strings.Contains(string(raw), alice) {
		t.Fatalf("keys file holds a token:\n%s", raw)
	}
	if !strings.Contains(string(raw), Hash(alice)) {
		t.Fatalf("keys file lacks the SHA-256 of alice's token:\n%s", raw)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("keys file mode %v, want 0600", fi.Mode().Perm())
	}

	ring, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		token string
		name  string
		role  Role
		ok    bool
	}{
		{admin, "ops", RoleAdmin, true},
		{alice, "alice", RolePredict, true},
		{alice + "x", "", "", false},
		{"", "", "", false},
		{Hash(alice), "", "", false}, // the stored hash is not a token
	} {
		k, ok := ring.Lookup(tc.token)
		if ok != tc.ok || k.Name != tc.name || k.Role != tc.role {
			t.Errorf("Lookup(%.12q...) = %+v, %v; want %s/%s, %v", tc.token, k, ok, tc.name, tc.role, tc.ok)
		}
	}
}

func TestAddRefusesBadInput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	if _, err := Add(path, "alice", RolePredict); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		role Role
		want error
	}{
		{"alice", RoleAdmin, ErrExists},
		{"", RolePredict, ErrBadName},
		{"has space", RolePredict, ErrBadName},
		{strings.Repeat("a", 65), RolePredict, ErrBadName},
		{"bob", "root", ErrBadRole},
	} {
		if _, err := Add(path, tc.name, tc.role); !errors.Is(err, tc.want) {
			t.Errorf("Add(%q, %q) = %v, want %v", tc.name, tc.role, err, tc.want)
		}
	}
	ks, err := List(path)
	if err != nil || len(ks) != 1 {
		t.Fatalf("List = %v, %v; want only alice", ks, err)
	}
}

func TestRevokeRemovesTheKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	tok, _ := Add(path, "alice", RolePredict)
	if _, err := Add(path, "bob", RolePredict); err != nil {
		t.Fatal(err)
	}
	if err := Revoke(path, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := Revoke(path, "alice"); !errors.Is(err, ErrNoKey) {
		t.Errorf("second revoke: %v, want ErrNoKey", err)
	}
	ks, _ := List(path)
	if len(ks) != 1 || ks[0].Name != "bob" {
		t.Fatalf("after revoke: %+v, want only bob", ks)
	}
	ring, _ := Open(path, nil)
	if _, ok := ring.Lookup(tok); ok {
		t.Error("revoked token still accepted")
	}
}

func TestKeyringReloadsChangedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	ring, err := Open(path, nil) // no file yet: nobody is let in
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := Add(path, "alice", RolePredict)
	if _, ok := ring.Lookup(tok); ok {
		t.Fatal("token accepted before a reload")
	}
	ring.Reload()
	if _, ok := ring.Lookup(tok); !ok {
		t.Fatal("token of a key added to the file not accepted after a reload")
	}

	// A broken file keeps the keys that were loaded.
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	ring.Reload()
	if _, ok := ring.Lookup(tok); !ok {
		t.Fatal("a malformed file dropped the keys loaded before")
	}
	// A deleted file revokes everything.
	os.Remove(path)
	ring.Reload()
	if _, ok := ring.Lookup(tok); ok {
		t.Fatal("token accepted after the keys file was deleted")
	}
}

func TestParseRefusesMalformedFiles(t *testing.T) {
	good := `{"name":"a","role":"predict","sha256":"` + Hash("x") + `"}`
	for name, body := range map[string]string{
		"not JSON":        `{keys`,
		"unknown role":    `{"keys":[{"name":"a","role":"root","sha256":"` + Hash("x") + `"}]}`,
		"short hash":      `{"keys":[{"name":"a","role":"admin","sha256":"abcd"}]}`,
		"duplicate names": `{"keys":[` + good + `,` + good + `]}`,
		"unknown field":   `{"keys":[],"tokens":["x"]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(strings.NewReader(body)); !errors.Is(err, ErrBadFile) {
				t.Errorf("Parse = %v, want ErrBadFile", err)
			}
		})
	}
}

func TestRoleAllows(t *testing.T) {
	for _, tc := range []struct {
		have, need Role
		ok         bool
	}{
		{RoleAdmin, RoleAdmin, true},
		{RoleAdmin, RolePredict, true},
		{RolePredict, RolePredict, true},
		{RolePredict, RoleAdmin, false},
		{"", RolePredict, false},
	} {
		if got := tc.have.Allows(tc.need); got != tc.ok {
			t.Errorf("%q.Allows(%q) = %v, want %v", tc.have, tc.need, got, tc.ok)
		}
	}
}

// logCounter counts the records logged at each level.
type logCounter struct {
	mu    sync.Mutex
	byLvl map[slog.Level][]string
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byLvl == nil {
		l.byLvl = map[slog.Level][]string{}
	}
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
	l.byLvl[r.Level] = append(l.byLvl[r.Level], msg)
	return nil
}
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCounter) WithGroup(string) slog.Handler      { return l }

func (l *logCounter) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.byLvl[slog.LevelError])
}

func TestABrokenKeysFileIsLoggedOncePerChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	tok, err := Add(path, "alice", RolePredict)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logCounter{}
	ring, err := Open(path, slog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	steps := []struct {
		name       string
		content    string // "" keeps the file as it is
		wantErrors int    // error lines logged so far
	}{
		{"a corrupt file is reported", "{not json", 1},
		{"it is not reported again while it stays the same", "", 1},
		{"nor at the tick after", "", 1},
		{"another corruption is a change, reported once", `{"keys":[{"name":"a"}]}`, 2},
		{"unchanged again: quiet", "", 2},
		{"the good file comes back: nothing to report", string(good), 2},
		{"the first corruption again is a new change", "{not json", 3},
	}
	for _, st := range steps {
		if st.content != "" {
			if err := os.WriteFile(path, []byte(st.content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		ring.Reload()
		if got := logs.errors(); len(got) != st.wantErrors {
			t.Fatalf("%s: %d error lines, want %d: %q", st.name, len(got), st.wantErrors, got)
		}
		if _, ok := ring.Lookup(tok); !ok {
			t.Fatalf("%s: alice's key was dropped; a bad file must keep the keys loaded before", st.name)
		}
	}
	if got := logs.errors(); !strings.Contains(got[0], path) {
		t.Errorf("the error %q does not name the file", got[0])
	}
}

func TestAWorldWritableKeysFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.json")
	tok, err := Add(path, "alice", RolePredict)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	t.Run("a server does not start on it", func(t *testing.T) {
		_, err := Open(path, nil)
		if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "world-writable") {
			t.Fatalf("Open = %v; want ErrUnsafe naming the file and saying it is world-writable", err)
		}
	})
	t.Run("app keys refuses to read or extend it", func(t *testing.T) {
		if _, err := List(path); !errors.Is(err, ErrUnsafe) {
			t.Errorf("List = %v, want ErrUnsafe", err)
		}
		if _, err := Add(path, "mallory", RoleAdmin); !errors.Is(err, ErrUnsafe) {
			t.Errorf("Add = %v, want ErrUnsafe", err)
		}
	})
	t.Run("a running server keeps its keys and says why, once", func(t *testing.T) {
		if err := os.Chmod(path, 0o600); err != nil {
			t.Fatal(err)
		}
		logs := &logCounter{}
		ring, err := Open(path, slog.New(logs))
		if err != nil {
			t.Fatal(err)
		}
		// Someone makes the file writable by all and adds a key of their own.
		mallory := NewToken()
		if err := os.WriteFile(path, []byte(`{"keys":[{"name":"mallory","role":"admin","sha256":"`+Hash(mallory)+`"}]}`), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o646); err != nil {
			t.Fatal(err)
		}
		ring.Reload()
		ring.Reload()
		if _, ok := ring.Lookup(mallory); ok {
			t.Fatal("a key written into a world-writable file was accepted")
		}
		if _, ok := ring.Lookup(tok); !ok {
			t.Fatal("the keys loaded before were dropped")
		}
		if got := logs.errors(); len(got) != 1 || !strings.Contains(got[0], "world-writable") || !strings.Contains(got[0], path) {
			t.Fatalf("logged %q; want one error naming the file and the problem", got)
		}
	})
}
