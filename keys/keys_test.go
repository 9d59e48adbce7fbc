package keys

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
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
