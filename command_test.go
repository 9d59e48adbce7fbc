package main

import (
	"context"
	"io"
	"os"
)

// runCommand runs c with args and the process's environment, as dispatch
// does, returning its error instead of an exit code.
func runCommand(c *Command, args []string, stdout, stderr io.Writer) error {
	return c.run(context.Background(), args, os.Getenv, stdout, stderr)
}
