package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/mnistserve/app/keys"
	"github.com/mnistserve/app/store"
)

var cmdKeys = &Command{
	UsageLine: "app keys [flags] add --role admin|predict NAME | list | revoke NAME",
	Short:     "add, list or revoke API tokens (add --role admin|predict NAME)",
	Long: `Manages the API tokens of 'app serve --keys FILE', or with --keys db those
kept in table api_keys of the database --db names (shared by every replica).
Either keeps only the SHA-256 of each token. 'add' prints the new token alone on standard output,
once (the words for people go to standard error): keep it, it cannot be shown
again. 'list' prints the names and roles, 'revoke' removes a key. A running
server picks up changes within a few seconds (it re-reads every 2 s). Flags may also
follow the action: app keys add --role predict alice.`,
	Args: true,
	Flag: func(fs *FlagSet) RunFunc {
		path, role, db := "", "", ""
		fs.String(&path, "keys", "the keys `FILE`, or db for table api_keys of the database --db names", Env("API_KEYS_FILE"))
		fs.String(&db, "db", "with --keys db: PostgreSQL `URL`; empty: the SQLite file predictions.db in the working directory", Env("DATABASE_URL"))
		fs.String(&role, "role", "`ROLE` of the key to add: admin (everything) or predict (predict, read and label its own rows)")
		return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			words, err := reparse(fs, args)
			if err != nil {
				return err
			}
			return runKeys(ctx, path, db, role, words, stdout, stderr)
		}
	},
}

// runKeys does one keys action on the file at path, or on the database db
// names when path is keys.InDatabase.
func runKeys(ctx context.Context, path, db, role string, words []string, stdout, stderr io.Writer) error {
	if len(words) == 0 {
		return usageError(stderr, "keys: want an action: add, list or revoke")
	}
	if path == "" {
		return errors.New("no keys file: give --keys FILE (or --keys db) or set API_KEYS_FILE")
	}
	action, rest := words[0], words[1:]
	names := map[string]int{"add": 1, "list": 0, "revoke": 1}
	n, ok := names[action]
	switch {
	case !ok:
		return usageError(stderr, fmt.Sprintf("keys: unknown action %q, want add, list or revoke", action))
	case len(rest) != n:
		return usageError(stderr, fmt.Sprintf("keys %s takes %d name(s), got %q", action, n, rest))
	case role != "" && action != "add":
		return usageError(stderr, "keys: --role is for add")
	}
	b, closeDB, err := keysBackend(ctx, path, db, nil)
	if err != nil {
		return err
	}
	defer closeDB()
	switch action {
	case "add":
		r, err := keys.ParseRole(role)
		if err != nil {
			return fmt.Errorf("--role: %w", err)
		}
		token, err := keys.AddKey(ctx, b, rest[0], r)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "added %s key %q to %s; its token, shown only this once:\n", r, rest[0], b)
		fmt.Fprintln(stdout, token)
		return nil
	case "revoke":
		if err := keys.RevokeKey(ctx, b, rest[0]); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "revoked key %q in %s; a running server refuses its token within seconds\n", rest[0], b)
		return nil
	}
	ks, err := keys.ListKeys(ctx, b)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tCREATED")
	for _, k := range ks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Name, k.Role, k.CreatedAt.Format("2006-01-02 15:04:05Z07:00"))
	}
	return tw.Flush()
}

// keysBackend returns the keys backend path names: the file, or with
// keys.InDatabase table api_keys of the database db names, opened here
// unless st is given (the server's own store). closeDB closes what it
// opened; it is never nil.
func keysBackend(ctx context.Context, path, db string, st *store.Store) (b keys.Backend, closeDB func(), err error) {
	closeDB = func() {}
	if path != keys.InDatabase {
		return keys.File(path), closeDB, nil
	}
	if st == nil {
		if st, err = store.Open(ctx, db, nil); err != nil {
			return nil, closeDB, fmt.Errorf("keys in the database: %w", err)
		}
		closeDB = func() { st.Close() }
	}
	d, err := keys.NewDatabase(ctx, st)
	if err != nil {
		closeDB()
		return nil, func() {}, fmt.Errorf("keys in the database: %w", err)
	}
	return d, closeDB, nil
}

// usageError prints msg and the hint to ask for help, and returns errUsage.
func usageError(stderr io.Writer, msg string) error {
	fmt.Fprintf(stderr, "%s\nRun 'app keys -h' for usage.\n", msg)
	return errUsage
}
