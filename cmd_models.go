package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/store"
	"github.com/mnistserve/app/train"
)

var cmdModels = &Command{
	UsageLine: "app models [flags] list|promote VERSION|rollback|unpin",
	Short:     "list the saved models; promote, roll back or unpin the served one",
	Long: `Lists the models of the model folder and moves its pin. Every server
sharing the folder serves the pinned model, or the newest valid one when
none is pinned, and follows a change within its --watch interval.

  list             the valid models, newest first: which is served and
                   pinned, test accuracy, live accuracy on labelled
                   predictions (when a database is at hand) and parent
  promote VERSION  pin VERSION
  rollback         pin the model served before the last promote (again:
                   one promote further back)
  unpin            remove the pin: the newest valid model is served again`,
	Args: true,
	Flag: func(fs *FlagSet) RunFunc {
		dir := train.DefaultConfig().ModelDir
		db := ""
		modelsFlag(fs, &dir)
		fs.String(&db, "db", "database (`URL`) whose labelled predictions give list its live accuracy; empty: predictions.db when it exists", Env("DATABASE_URL"))
		return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			// Flags may also follow the action and its version.
			pos, err := reparse(fs, args)
			if err != nil {
				return err
			}
			want := map[string]int{"list": 1, "promote": 2, "rollback": 1, "unpin": 1}
			if len(pos) == 0 || want[pos[0]] != len(pos) {
				fs.Usage()
				return errUsage
			}
			return runModels(ctx, pos, dir, db, stdout, stderr)
		}
	},
}

// runModels lists the models of dir or moves its pin, as pos says.
func runModels(ctx context.Context, pos []string, dir, db string, stdout, stderr io.Writer) error {
	switch pos[0] {
	case "list":
		return listModels(ctx, stdout, stderr, dir, db)
	case "promote":
		if _, err := model.Promote(dir, pos[1]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "pinned %s; servers sharing %s serve it within their --watch interval\n", pos[1], dir)
	case "rollback":
		pin, err := model.Rollback(dir)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rolled back: pinned %s, the model served before the last promote\n", pin.Version)
	case "unpin":
		if _, err := model.Unpin(dir); err != nil {
			return err
		}
		_, meta, err := model.Current(dir)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "unpinned; the newest valid model, %s, is served\n", meta.Version)
	}
	return nil
}

// listModels prints the valid models of dir, newest first.
func listModels(ctx context.Context, stdout, stderr io.Writer, dir, db string) error {
	metas := model.List(dir)
	if len(metas) == 0 {
		return fmt.Errorf("%w in %s (train one with `app train`)", model.ErrNoModel, dir)
	}
	pin, err := model.ReadPin(dir)
	if err != nil {
		return err
	}
	// The served model is the one model.Current would load, read off the
	// metadata already loaded: the pinned one when valid, else the newest.
	served := metas[0].Version
	for _, m := range metas {
		if m.Version == pin.Version {
			served = m.Version
			break
		}
	}
	live := liveAccuracy(ctx, stderr, db)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTATE\tCREATED\tTEST_ACC\tLIVE\tPARENT")
	for _, m := range metas {
		var state []string
		if m.Version == served {
			state = append(state, "served")
		}
		if m.Version == pin.Version {
			state = append(state, "pinned")
		}
		liveCol := "-"
		if live != nil {
			l := live[m.Version]
			liveCol = fmt.Sprintf("%d/%d", l.Correct, l.Labelled)
			if a := l.Accuracy(); a != nil {
				liveCol = fmt.Sprintf("%.4f (%s)", *a, liveCol)
			}
		}
		stateCol := strings.Join(state, ",")
		if stateCol == "" {
			stateCol = "-"
		}
		parent := m.ParentVersion
		if parent == "" {
			parent = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.4f\t%s\t%s\n", m.Version, stateCol,
			m.CreatedAt.UTC().Format(time.DateTime), m.TestAccuracy, liveCol, parent)
	}
	return tw.Flush()
}

// liveAccuracy reads the live figures from db, or from predictions.db when
// db is empty and that file exists; nil when there is no database at hand.
func liveAccuracy(ctx context.Context, stderr io.Writer, db string) map[string]store.Live {
	if db == "" {
		if _, err := os.Stat(store.DefaultSQLitePath); err != nil {
			return nil
		}
	}
	st, err := store.Open(ctx, db, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintf(stderr, "no live accuracy: %v\n", err)
		return nil
	}
	defer st.Close()
	live, err := st.LiveAccuracy(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "no live accuracy: %v\n", err)
		return nil
	}
	return live
}
