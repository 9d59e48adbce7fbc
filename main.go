// Command app trains a handwritten-digit convnet on MNIST and serves its
// predictions over HTTP, storing every request and answer in a database.
//
//	app train        train a model and save it (in saved_models/, or the database)
//	app serve        serve predictions on :5000 (training one first if none exists)
//	app predict      classify image files with the served model
//	app eval         test accuracy of the served model
//	app export       write a saved model as ONNX
//	app models       list, promote, roll back, unpin, import or export models
//	app healthcheck  exit 0 when a server answers /healthz (for container probes)
//	app keys         add, list or revoke API tokens
//	app version      print the version
//	app help         list the commands
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// commands lists the subcommands in the order `app help` prints them.
func commands() []*Command {
	return []*Command{cmdTrain, cmdServe, cmdPredict, cmdEval, cmdExport, cmdModels, cmdHealthcheck, cmdKeys, cmdVersion, cmdHelp}
}

// lookup returns the command called name, or nil.
func lookup(name string) *Command {
	for _, c := range commands() {
		if c.Name() == name {
			return c
		}
	}
	return nil
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
	cmd := lookup(name)
	if cmd == nil {
		fmt.Fprintf(stderr, "app: unknown command %q\n\n", name)
		usage(stderr)
		return 2
	}
	err := cmd.run(ctx, args[1:], getenvOS, stdout, stderr)
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

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: app <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.Name(), c.Short)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'app <command> -h' for the flags of a command.")
}

// cmdHelp and cmdVersion are declared in init: cmdHelp lists commands(),
// which lists cmdHelp.
var cmdHelp, cmdVersion *Command

func init() {
	cmdHelp = &Command{
		UsageLine: "app help",
		Short:     "print this help",
		Flag: func(*FlagSet) RunFunc {
			return func(_ context.Context, _ []string, stdout, _ io.Writer) error {
				usage(stdout)
				return nil
			}
		},
	}
	cmdVersion = &Command{
		UsageLine: "app version",
		Short:     "print the version",
		Flag: func(*FlagSet) RunFunc {
			return func(_ context.Context, _ []string, stdout, _ io.Writer) error {
				fmt.Fprintf(stdout, "app %s\n", version)
				return nil
			}
		},
	}
}
