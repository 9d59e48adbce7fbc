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
	"github.com/mnistserve/app/registry"
	"github.com/mnistserve/app/store"
)

var cmdModels = &Command{
	UsageLine: "app models [flags] list|promote VERSION|rollback|unpin|import DIR|export DIR",
	Short:     "list the saved models; promote, roll back or unpin the served one; copy models",
	Long: `Lists the models of the model store (--models: a folder, or db for the
database --db names) and moves its pin. Every server sharing the store
serves the pinned model, or the newest valid one when none is pinned, and
follows a change within its --watch interval (with the database on
PostgreSQL, within a second).

  list             the valid models, newest first: which is served and
                   pinned, test accuracy, live accuracy on labelled
                   predictions (when a database is at hand) and parent;
                   a first boot's early checkpoints are left out (counted
                   on the last line) unless one is served or pinned
  promote VERSION  pin VERSION
  rollback         pin the model served before the last promote (again:
                   one promote further back)
  unpin            remove the pin: the newest valid model is served again
  import DIR       copy the valid models of the folder DIR into the store
                   (those it lacks), and its pin when the store has none:
                   app models import saved_models --models db --db URL
  export DIR       copy the valid models of the store into the folder DIR`,
	Args: true,
	Flag: func(fs *FlagSet) RunFunc {
		ms := defaultModelStore()
		modelsFlag(fs, &ms.Models)
		fs.String(&ms.DB, "db", "database (`URL`) of the models with --models db, and whose labelled predictions give list its live accuracy; empty: predictions.db (for live accuracy, when it exists)", Env("DATABASE_URL"))
		return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			// Flags may also follow the action and its version.
			pos, err := reparse(fs, args)
			if err != nil {
				return err
			}
			want := map[string]int{"list": 1, "promote": 2, "rollback": 1, "unpin": 1, "import": 2, "export": 2}
			if len(pos) == 0 {
				fs.Usage()
				return errUsage
			}
			n, ok := want[pos[0]]
			switch {
			case !ok:
				return modelsUsage(stderr, fmt.Sprintf("models: unknown action %q, want list, promote, rollback, unpin, import or export", pos[0]))
			case n != len(pos) && n == 2:
				return modelsUsage(stderr, fmt.Sprintf("models %s takes one argument (a version or a folder), got %q", pos[0], pos[1:]))
			case n != len(pos):
				return modelsUsage(stderr, fmt.Sprintf("models %s takes no argument, got %q", pos[0], pos[1:]))
			}
			return runModels(ctx, pos, ms, stdout, stderr)
		}
	},
}

// runModels lists the models of ms, moves its pin or copies models, as
// pos says.
func runModels(ctx context.Context, pos []string, ms modelStore, stdout, stderr io.Writer) error {
	reg, closeReg, err := ms.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer closeReg()
	switch pos[0] {
	case "list":
		return listModels(ctx, stdout, stderr, reg, ms.DB)
	case "promote":
		if _, err := reg.Promote(ctx, pos[1]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "pinned %s; servers sharing the %s serve it within their --watch interval\n", pos[1], reg)
	case "rollback":
		pin, err := reg.Rollback(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rolled back: pinned %s, the model served before the last promote\n", pin.Version)
	case "unpin":
		if _, err := reg.Unpin(ctx); err != nil {
			return err
		}
		v, _, err := reg.Served(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "unpinned; the newest valid model, %s, is served\n", v)
	case "import", "export":
		return copyModels(ctx, pos[0], pos[1], reg, stdout, stderr)
	}
	return nil
}

// listModels prints the valid models of reg, newest first.
func listModels(ctx context.Context, stdout, stderr io.Writer, reg *registry.Registry, db string) error {
	metas, err := reg.List(ctx)
	if err != nil {
		return err
	}
	if len(metas) == 0 {
		return fmt.Errorf("%w in the %s (train one with `app train`)", model.ErrNoModel, reg)
	}
	pin, err := reg.ReadPin(ctx)
	if err != nil {
		return err
	}
	// The served model is the one a server of the store serves: the
	// pinned one when valid, else the newest valid.
	served, _, err := reg.Served(ctx)
	if err != nil {
		return err
	}
	live := liveAccuracy(ctx, stderr, db)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTATE\tCREATED\tTEST_ACC\tLIVE\tPARENT")
	hidden := 0
	for _, m := range metas {
		if m.Checkpoint != nil && m.Version != served && m.Version != pin.Version {
			hidden++ // superseded by a later model of its run
			continue
		}
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
		if cp := m.Checkpoint; cp != nil {
			stateCol += fmt.Sprintf(",checkpoint(%d/%d)", cp.Epoch, cp.Epochs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.4f\t%s\t%s\n", m.Version, stateCol,
			m.CreatedAt.UTC().Format(time.DateTime), m.TestAccuracy, liveCol, parent)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if hidden > 0 {
		fmt.Fprintf(stdout, "(%d early checkpoints of a first boot not shown)\n", hidden)
	}
	return nil
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

// modelsUsage names what is wrong with an app models command line.
func modelsUsage(stderr io.Writer, msg string) error {
	fmt.Fprintf(stderr, "%s\nRun 'app models -h' for usage.\n", msg)
	return errUsage
}
