package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite README.md's configuration table from the flag declarations")

const (
	tableBegin = "<!-- flags: generated from the flag declarations by `go test -run TestREADMEConfigTable -update .` -->\n"
	tableEnd   = "<!-- end of flags -->\n"
)

// configTable renders every command's flag declarations as the README's
// markdown table; a flag declared alike by several commands is one row.
func configTable() string {
	type row struct {
		cmds []string
		d    *FlagDecl
	}
	var rows []*row
	byKey := map[string]*row{}
	for _, c := range commands() {
		fs := newFlagSet(c.Name(), io.Discard)
		c.Flag(fs)
		for _, d := range fs.decls {
			env := ""
			if d.Env != nil {
				env = d.Env.text()
			}
			key := strings.Join([]string{d.Name, d.Arg, d.Default, env, d.Usage}, "\x00")
			if r, ok := byKey[key]; ok {
				r.cmds = append(r.cmds, c.Name())
				continue
			}
			r := &row{cmds: []string{c.Name()}, d: d}
			byKey[key] = r
			rows = append(rows, r)
		}
	}
	var b strings.Builder
	b.WriteString("| command | flag | default | env | meaning |\n| --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		d := r.d
		flagText := "--" + d.Name
		if d.Arg != "" {
			flagText += " " + d.Arg
		}
		def := "empty"
		if d.Default != "" {
			def = "`" + d.Default + "`"
		}
		env := ""
		if d.Env != nil {
			env = "`" + d.Env.Name + "`"
			if d.Env.Note != "" {
				env += " (" + d.Env.Note + ")"
			}
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s |\n", strings.Join(r.cmds, ", "), flagText, def, env,
			strings.ReplaceAll(d.Usage, "|", `\|`))
	}
	return b.String()
}

// TestREADMEConfigTable checks that README.md's configuration table is the
// one the flag declarations give, so that a flag added, renamed or given
// another default cannot leave the README behind.
func TestREADMEConfigTable(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	i, j := strings.Index(text, tableBegin), strings.Index(text, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the markers %q and %q around its configuration table", tableBegin, tableEnd)
	}
	got, want := text[i+len(tableBegin):j], configTable()
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile("README.md", []byte(text[:i+len(tableBegin)]+want+text[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("README.md's configuration table rewritten")
		return
	}
	t.Errorf("README.md's configuration table differs from the flag declarations; run\n\tgo test -run TestREADMEConfigTable -update .\nwant:\n%s", want)
}

func TestConfigTableListsEveryFlagWithItsEnv(t *testing.T) {
	table := configTable()
	for _, want := range []string{
		"| train, serve, eval | `--data DIR` | `data/mnist` | `MNIST_DIR` |",
		"| train, serve, predict, eval, export, models | `--models DIR` | `saved_models` | `MODEL_DIR` |",
		"| serve | `--addr ADDR` | `:5000` | `PORT` (the port) |",
		"| serve | `--db URL` | empty | `DATABASE_URL` |",
		"| serve | `--max-body SIZE` | `1MiB` |",
		"| train | `--epochs N` | `15` |",
		"| healthcheck | `--url URL` | `http://127.0.0.1:5000/healthz` | `PORT` (the port) |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

// TestREADMELayoutNamesEveryCommandFile keeps the README's layout section
// complete as commands are added.
func TestREADMELayoutNamesEveryCommandFile(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, layout, ok := strings.Cut(string(readme), "## Layout of the code")
	if !ok {
		t.Fatal("README.md has no section \"Layout of the code\"")
	}
	layout, _, _ = strings.Cut(layout, "\n## ")
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || !(strings.HasPrefix(f, "cmd_") || f == "main.go" || f == "command.go" || f == "flags.go") {
			continue
		}
		if !strings.Contains(layout, "`"+f+"`") {
			t.Errorf("README.md's layout section does not name %s", f)
		}
	}
}
