// Command app trains a handwritten-digit convnet on MNIST and serves its
// predictions over HTTP, storing every request and answer in a database.
//
//	app train    train a model and write it to saved_models/
//	app serve    serve predictions on :5000 (training one first if none exists)
//	app predict  classify image files with the newest saved model
//	app eval     test accuracy of the newest saved model
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// command is one subcommand: its one-line summary and the function that runs it.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is the table of subcommands, in the style of upspin's cmd/upspin.
func commands() map[string]command {
	return map[string]command{
		"train":       {"train the convnet on MNIST and save it", runTrain},
		"serve":       {"serve predictions over HTTP, storing each one", runServe},
		"predict":     {"classify PNG or JPEG files with the newest saved model", runPredict},
		"eval":        {"test accuracy and confusion matrix of the newest saved model", runEval},
		"healthcheck": {"exit 0 when the server at --url answers /healthz", runHealthcheck},
		"version":     {"print the version", runVersion},
		"help":        {"print this help", runHelp},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// dispatch runs the subcommand named by args[0] and returns the exit code.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "-help" {
		name = "help"
	}
	cmd, ok := commands()[name]
	if !ok {
		fmt.Fprintf(stderr, "app: unknown command %q\n\n", name)
		usage(stderr)
		return 2
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "app %s: %v\n", name, err)
		return 1
	}
}

// errUsage reports a command line the flag set already complained about.
var errUsage = errors.New("usage")

// parseFlags parses args with fs, turning flag errors into errUsage so that
// dispatch exits 2 without printing the message twice.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		return errUsage
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: app <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'app <command> -h' for the flags of a command.")
}

func runHelp(_ context.Context, _ []string, stdout, _ io.Writer) error {
	usage(stdout)
	return nil
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	fmt.Fprintf(stdout, "app %s\n", version)
	return nil
}

// envOr returns the environment variable key, or def when it is unset or empty.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
