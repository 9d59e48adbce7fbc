package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mnistserve/app/keys"
	"github.com/mnistserve/app/store"
)

// app runs the program with args and returns its exit code and outputs.
func app(tb testing.TB, args ...string) (int, string, string) {
	tb.Helper()
	var stdout, stderr bytes.Buffer
	code := dispatch(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestKeysAddPrintsTheTokenAloneAndStoresItsHash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	t.Setenv("API_KEYS_FILE", path)
	code, out, errOut := app(t, "keys", "add", "--role", "admin", "ops")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !regexp.MustCompile(`^mnist_[A-Za-z0-9_-]{43}\n$`).MatchString(out) {
		t.Fatalf("stdout %q, want the token alone on one line", out)
	}
	if !strings.Contains(errOut, "ops") {
		t.Errorf("stderr %q does not tell people what was added", errOut)
	}
	token := strings.TrimSpace(out)
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), token) || !strings.Contains(string(raw), keys.Hash(token)) {
		t.Fatalf("the file must hold the token's SHA-256 and not the token:\n%s", raw)
	}

	// Flags before the action and --keys instead of the environment work too.
	other := filepath.Join(t.TempDir(), "other.json")
	if code, out, errOut := app(t, "keys", "--keys", other, "--role", "predict", "add", "alice"); code != 0 || strings.Count(out, "\n") != 1 {
		t.Fatalf("exit %d, stdout %q: %s", code, out, errOut)
	}
	if ks, err := keys.List(other); err != nil || len(ks) != 1 || ks[0].Role != keys.RolePredict {
		t.Fatalf("--keys file holds %+v, %v", ks, err)
	}
}

func TestKeysListAndRevoke(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	t.Setenv("API_KEYS_FILE", path)
	for _, args := range [][]string{{"add", "--role", "admin", "ops"}, {"add", "--role", "predict", "alice"}} {
		if code, _, errOut := app(t, append([]string{"keys"}, args...)...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	_, out, _ := app(t, "keys", "list")
	if !strings.Contains(out, "ops") || !strings.Contains(out, "admin") || !strings.Contains(out, "alice") {
		t.Errorf("list:\n%s", out)
	}
	if code, _, errOut := app(t, "keys", "revoke", "alice"); code != 0 {
		t.Fatalf("revoke: exit %d: %s", code, errOut)
	}
	_, out, _ = app(t, "keys", "list")
	if strings.Contains(out, "alice") || !strings.Contains(out, "ops") {
		t.Errorf("list after revoking alice:\n%s", out)
	}
	if code, _, _ := app(t, "keys", "revoke", "alice"); code != 1 {
		t.Errorf("revoking an unknown key: exit %d, want 1", code)
	}
}

func TestKeysRefusesBadCommandLines(t *testing.T) {
	t.Setenv("API_KEYS_FILE", filepath.Join(t.TempDir(), "keys.json"))
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"keys"}, 2},
		{[]string{"keys", "burn"}, 2},
		{[]string{"keys", "add", "alice"}, 1}, // no role
		{[]string{"keys", "add", "--role", "root", "alice"}, 1},
		{[]string{"keys", "add", "--role", "admin"}, 2}, // no name
		{[]string{"keys", "add", "--role", "admin", "bad name"}, 1},
		{[]string{"keys", "list", "--role", "admin"}, 2},
	} {
		code, out, _ := app(t, tc.args...)
		if code != tc.code || out != "" {
			t.Errorf("%q: exit %d with stdout %q, want exit %d and nothing on stdout", tc.args, code, out, tc.code)
		}
	}
	t.Setenv("API_KEYS_FILE", "")
	if code, _, errOut := app(t, "keys", "list"); code != 1 || !strings.Contains(errOut, "API_KEYS_FILE") {
		t.Errorf("no keys file: exit %d, %q", code, errOut)
	}
}

func TestKeysInTheDatabaseReachAServerOnTheSameDatabase(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "shared.db")
	t.Setenv("API_KEYS_FILE", "db")
	code, out, errOut := app(t, "keys", "add", "--db", db, "--role", "predict", "alice")
	if code != 0 {
		t.Fatalf("keys add --keys db: exit %d: %s", code, errOut)
	}
	token := strings.TrimSpace(out)
	if !strings.Contains(errOut, "api_keys") {
		t.Errorf("stderr %q does not say the key went to the database", errOut)
	}
	if code, out, _ := app(t, "keys", "list", "--db", db); code != 0 || !strings.Contains(out, "alice") || strings.Contains(out, token) {
		t.Fatalf("keys list --keys db: exit %d, %q; want alice listed and no token", code, out)
	}

	st, err := store.Open(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	from, closeDB, err := keysBackend(context.Background(), "db", "", st)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	ring, err := keys.OpenBackend(context.Background(), from, nil)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := ring.Lookup(token); !ok || k.Name != "alice" {
		t.Fatalf("a server on the database does not accept the token added by app keys: %+v, %v", k, ok)
	}
	if code, _, errOut := app(t, "keys", "revoke", "--db", db, "alice"); code != 0 {
		t.Fatalf("keys revoke: exit %d: %s", code, errOut)
	}
	ring.Reload()
	if _, ok := ring.Lookup(token); ok {
		t.Fatal("a revoked key is still accepted after the server's next reload")
	}
}
