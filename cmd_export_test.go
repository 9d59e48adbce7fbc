package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"

	"github.com/mnistserve/app/model"
	"github.com/mnistserve/app/registry"
)

func TestExportCommand(t *testing.T) {
	models := t.TempDir()
	older, err := model.Save(models, model.NewWeights(1), model.Meta{Epochs: 1, CreatedAt: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	newer, err := model.Save(models, model.NewWeights(2), model.Meta{Epochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cases := []struct {
		name     string
		args     []string
		code     int
		version  string // the model the file must hold; "" when none is written
		errorHas string
		promote  string // pin this version first
	}{
		{"the newest model by default", []string{"--onnx", "new.onnx"}, 0, newer.Version, "", ""},
		{"a version by name", []string{"--onnx", "old.onnx", "--version", older.Version}, 0, older.Version, "", ""},
		{"an unknown version", []string{"--onnx", "none.onnx", "--version", "nope"}, 1, "", `"nope"`, ""},
		{"no --onnx", nil, 2, "", "usage: app export", ""},
		{"the pinned model by default", []string{"--onnx", "pinned.onnx"}, 0, older.Version, "", older.Version},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.promote != "" {
				if _, err := registry.New(registry.NewFolder(models), nil).Promote(context.Background(), c.promote); err != nil {
					t.Fatal(err)
				}
			}
			var stdout, stderr bytes.Buffer
			args := []string{"export", "--models", models}
			for _, a := range c.args {
				if strings.HasSuffix(a, ".onnx") {
					a = filepath.Join(out, a)
				}
				args = append(args, a)
			}
			if code := dispatch(context.Background(), args, &stdout, &stderr); code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, &stdout, &stderr)
			}
			if !strings.Contains(stderr.String(), c.errorHas) {
				t.Errorf("stderr %q does not say %q", &stderr, c.errorHas)
			}
			if c.version == "" {
				return
			}
			data, err := os.ReadFile(args[len(args)-len(c.args)+1])
			if err != nil {
				t.Fatal(err)
			}
			var m pb.ModelProto
			if err := proto.Unmarshal(data, &m); err != nil {
				t.Fatalf("the file is not ONNX: %v", err)
			}
			if m.ProducerVersion != c.version {
				t.Errorf("the file holds model %q, want %q", m.ProducerVersion, c.version)
			}
		})
	}
}
