package train

import (
	"fmt"
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress reports the steps of one epoch: a progress bar on a terminal,
// and a few plain lines otherwise (logs, pipes, the server's first boot).
type progress interface {
	Add(int) error
	Finish() error
}

func newProgress(out io.Writer, steps int, label string) progress {
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return progressbar.NewOptions(steps,
			progressbar.OptionSetWriter(out),
			progressbar.OptionSetDescription(label),
			progressbar.OptionShowCount(),
			progressbar.OptionSetItsString("steps"),
			progressbar.OptionShowIts(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetWidth(30),
		)
	}
	return &lines{out: out, label: label, steps: steps}
}

// lines prints a line at each quarter of the epoch.
type lines struct {
	out         io.Writer
	label       string
	steps, done int
	lastQuarter int
}

func (l *lines) Add(n int) error {
	l.done += n
	q := 4 * l.done / l.steps
	if q > l.lastQuarter && l.done < l.steps {
		l.lastQuarter = q
		fmt.Fprintf(l.out, "%s: %d/%d steps (%d%%)\n", l.label, l.done, l.steps, 100*l.done/l.steps)
	}
	return nil
}

func (l *lines) Finish() error { return nil }
