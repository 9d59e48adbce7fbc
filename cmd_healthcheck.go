package main

import (
	"context"
	"io"
)

func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error { return nil }
