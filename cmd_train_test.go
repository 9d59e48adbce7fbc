package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mnistserve/app/internal/testutil"
)

func TestTrainCommandLine(t *testing.T) {
	// Real files but for the training images: a labels header where an
	// images header should be, so a wrong magic number.
	bad := t.TempDir()
	for _, f := range []string{"train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"} {
		data, err := os.ReadFile(filepath.Join(testutil.MNISTFixture(t), f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(bad, f), data, 0o644)
	}
	os.WriteFile(filepath.Join(bad, "train-images-idx3-ubyte"), []byte{0, 0, 8, 1, 0, 0, 0, 1, 7}, 0o644)
	cases := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"help exits 0 and lists the flags", []string{"train", "-h"}, 0, "-epochs"},
		{"an unknown flag exits 2", []string{"train", "--bogus"}, 2, "bogus"},
		{"a stray argument exits 2", []string{"train", "extra"}, 2, "unexpected arguments"},
		{"zero epochs exits 1 with a reason", []string{"train", "--epochs", "0"}, 1, "epochs 0"},
		{"a bad IDX file exits 1 naming the file", []string{"train", "--data", bad, "--models", t.TempDir()}, 1, "train-images-idx3-ubyte"},
		{"a missing data folder says how to fetch it", []string{"train", "--data", filepath.Join(bad, "none"), "--models", t.TempDir()}, 1, "make data"},
		{"an unknown command exits 2", []string{"trian"}, 2, "unknown command"},
		{"a --models that is a file exits 1 before training", []string{"train", "--data", testutil.MNISTFixture(t), "--models", filepath.Join(bad, "t10k-labels-idx1-ubyte.gz"),
			"--epochs", "1", "--limit", "100", "--robustness=false"}, 1, "not a directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := dispatch(context.Background(), c.args, &stdout, &stderr)
			if code != c.wantCode {
				t.Errorf("exit code %d, want %d (stderr: %s)", code, c.wantCode, stderr.String())
			}
			if all := stdout.String() + stderr.String(); !strings.Contains(all, c.wantErr) {
				t.Errorf("output lacks %q:\n%s", c.wantErr, all)
			}
			if c.wantCode != 0 && strings.Contains(stdout.String(), "epoch 1/") {
				t.Errorf("it trained before failing:\n%s", stdout.String())
			}
		})
	}
}
