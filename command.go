package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Command is one subcommand of app, after cmd/go's base.Command: its usage
// line, its help, and the declaration of its flags. One usage printer
// (printUsage) serves every command, and one parser (parse) applies the
// defaults, then the environment, then the command line.
type Command struct {
	// UsageLine is the one-line usage: "app serve [flags]". Its second
	// word is the command's name.
	UsageLine string
	// Short is the one-line summary that `app help` lists.
	Short string
	// Long is the help text that `app <command> -h` prints above the flags.
	Long string
	// Args says the command takes positional arguments after its flags;
	// without it, any is a usage error.
	Args bool
	// Flag declares the command's flags on fs, each bound to a field of a
	// configuration that Flag creates holding its defaults, and returns the
	// function that runs the command once fs has parsed the environment and
	// the command line into that configuration.
	Flag func(fs *FlagSet) RunFunc
}

// RunFunc runs a command with its configuration parsed; args are the
// positional arguments left after the flags.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Name is the command's name, the second word of its UsageLine.
func (c *Command) Name() string {
	f := strings.Fields(c.UsageLine)
	if len(f) < 2 {
		return c.UsageLine
	}
	return f[1]
}

// errUsage reports a command line the usage printer already complained
// about, so that dispatch exits 2 without printing the message twice.
var errUsage = errors.New("usage")

// run parses args for c (defaults, then the environment through getenv,
// then the flags) and runs it.
func (c *Command) run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet(c.Name(), stderr)
	runFn := c.Flag(fs)
	fs.Usage = func() { printUsage(stderr, c, fs) }
	if err := fs.parse(args, getenv, c.Args); err != nil {
		return err
	}
	return runFn(ctx, fs.Args(), stdout, stderr)
}

// printUsage is the help of every command: usage line, long text, flags
// with their defaults and environment variables.
func printUsage(w io.Writer, c *Command, fs *FlagSet) {
	fmt.Fprintf(w, "usage: %s\n", c.UsageLine)
	if c.Long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.Long))
	}
	if len(fs.decls) == 0 {
		return
	}
	fmt.Fprintln(w, "\nflags:")
	for _, d := range fs.decls {
		fmt.Fprintf(w, "  --%s", d.Name)
		if d.Arg != "" {
			fmt.Fprintf(w, " %s", d.Arg)
		}
		fmt.Fprintf(w, "\n    \t%s (default %s", d.Usage, d.defaultText())
		if d.Env != nil {
			fmt.Fprintf(w, "; env %s", d.Env.Name)
			if d.Env.Note != "" {
				fmt.Fprintf(w, ": %s", d.Env.Note)
			}
		}
		fmt.Fprintln(w, ")")
	}
}

// getenvOS reads the process environment; tests call run with their own.
func getenvOS(key string) string { return os.Getenv(key) }
