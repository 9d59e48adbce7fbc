package main

import (
	"context"
	"io"
)

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error { return nil }
