package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mnistserve/app/internal/testutil"
	"github.com/mnistserve/app/store/storetest"
)

// TestEveryModelCommandWorksOnTheDatabase carries a folder's models into
// the database (SQLite, and PostgreSQL when TEST_DATABASE_URL is set) with
// `app models import`, then lists, promotes, exports and serves them from
// there, and carries them back out with `app models export`.
func TestEveryModelCommandWorksOnTheDatabase(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			db := "sqlite:" + filepath.Join(dir, "p.db")
			if kind == "postgres" {
				db = storetest.PostgresURL(t)
			}
			folder := filepath.Join(dir, "models")
			old := saveModel(t, folder, 1, time.Now().Add(-time.Hour))
			newest := saveModel(t, folder, 2, time.Now())
			inDB := []string{"--models", "db", "--db", db}
			steps := []struct {
				name string
				args []string
				want []string // in the output
			}{
				{"import copies the folder's models", []string{"models", "import", folder}, []string{"copied 2 models"}},
				{"a second import copies nothing", []string{"models", "import", folder}, []string{"copied 0 models", "2 there already"}},
				{"list serves the newest", []string{"models", "list"}, []string{newest.Version + "  served", old.Version}},
				{"promote pins the older", []string{"models", "promote", old.Version}, []string{"pinned " + old.Version}},
				{"list then serves the pinned one", []string{"models", "list"}, []string{old.Version + "  served,pinned"}},
				{"export writes the served model as ONNX", []string{"export", "--onnx", filepath.Join(dir, "m.onnx")}, []string{"wrote model " + old.Version}},
				{"models export copies them out", []string{"models", "export", filepath.Join(dir, "out")}, []string{"copied 2 models", "pinned " + old.Version}},
			}
			for _, st := range steps {
				code, out := runApp(t, append(st.args, inDB...)...)
				if code != 0 {
					t.Fatalf("%s: exit %d\n%s", st.name, code, out)
				}
				for _, w := range st.want {
					if !strings.Contains(out, w) {
						t.Errorf("%s: output lacks %q:\n%s", st.name, w, out)
					}
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "out", newest.Version+".weights")); err != nil {
				t.Errorf("models export wrote no weights file: %v", err)
			}

			addr := freeAddr(t)
			_, stop, done := runServeInBackground(t, append([]string{"--addr", addr, "--watch", "100ms"}, inDB...)...)
			defer func() { stop(); <-done }()
			base := "http://" + addr
			waitFor(t, "the pinned model to be served from the database", 20*time.Second, func() bool { return servedVersion(base) == old.Version })
			if code, out := runApp(t, append([]string{"models", "unpin"}, inDB...)...); code != 0 {
				t.Fatalf("unpin: exit %d\n%s", code, out)
			}
			waitFor(t, "the server to follow the unpin", 10*time.Second, func() bool { return servedVersion(base) == newest.Version })
			if code, _ := testutil.Get(base + "/models"); code != http.StatusOK {
				t.Errorf("GET /models: %d", code)
			}
		})
	}
}

// TestModelsImportFromAMissingFolderFails: a mistyped folder to import
// from is an error naming it, not "copied 0 models" and exit 0 (the folder
// store reads a missing folder as an empty one).
func TestModelsImportFromAMissingFolderFails(t *testing.T) {
	dir := t.TempDir()
	inDB := []string{"--models", "db", "--db", "sqlite:" + filepath.Join(dir, "p.db")}
	missing := filepath.Join(dir, "typo")
	code, out := runApp(t, append([]string{"models", "import", missing}, inDB...)...)
	if code == 0 || !strings.Contains(out, missing) || strings.Contains(out, "copied") {
		t.Fatalf("import of a missing folder: exit %d, want an error naming %s:\n%s", code, missing, out)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("the missing folder was created (%v)", err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := runApp(t, append([]string{"models", "import", file}, inDB...)...); code == 0 || !strings.Contains(out, "not a directory") {
		t.Errorf("import of a file: exit %d, want an error saying it is not a directory:\n%s", code, out)
	}
}
