package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// runCommand runs c with args and the process's environment, as dispatch
// does, returning its error instead of an exit code.
func runCommand(c *Command, args []string, stdout, stderr io.Writer) error {
	return c.run(context.Background(), args, os.Getenv, stdout, stderr)
}

// toyConfig is a configuration with one field of each kind FlagSet binds.
type toyConfig struct {
	Dir   string
	N     int
	Wait  time.Duration
	Quiet bool
	Size  byteSize
}

// toyCommand declares toyConfig's flags and hands the parsed configuration
// and arguments to got.
func toyCommand(got *toyConfig, gotArgs *[]string) *Command {
	return &Command{
		UsageLine: "app toy [flags] FILE...",
		Short:     "a command for tests",
		Long:      "Toy does nothing.",
		Args:      true,
		Flag: func(fs *FlagSet) RunFunc {
			cfg := toyConfig{Dir: "here", N: 3, Wait: time.Second, Size: 1 << 20}
			fs.String(&cfg.Dir, "dir", "the `DIR` to use", Env("TOY_DIR"))
			fs.Int(&cfg.N, "n", "how many", EnvAs("TOY_HALF_N", "half of it", func(v string) string { return v + "0" }))
			fs.Duration(&cfg.Wait, "wait", "how long to wait")
			fs.Bool(&cfg.Quiet, "quiet", "say nothing", Env("TOY_QUIET"))
			fs.Value(&cfg.Size, "size", "a `SIZE`")
			return func(_ context.Context, args []string, _, _ io.Writer) error {
				*got, *gotArgs = cfg, args
				return nil
			}
		},
	}
}

func TestFlagsOverrideEnvOverrideDefaults(t *testing.T) {
	cases := []struct {
		name     string
		env      map[string]string
		args     []string
		want     toyConfig
		wantArgs []string
	}{
		{"nothing set gives the declared defaults", nil, nil,
			toyConfig{Dir: "here", N: 3, Wait: time.Second, Size: 1 << 20}, nil},
		{"the environment overrides a default, through its mapping", map[string]string{"TOY_DIR": "env", "TOY_HALF_N": "4", "TOY_QUIET": "true"}, nil,
			toyConfig{Dir: "env", N: 40, Wait: time.Second, Quiet: true, Size: 1 << 20}, nil},
		{"an empty variable counts as unset", map[string]string{"TOY_DIR": ""}, nil,
			toyConfig{Dir: "here", N: 3, Wait: time.Second, Size: 1 << 20}, nil},
		{"a flag overrides the environment", map[string]string{"TOY_DIR": "env"}, []string{"--dir", "flag", "--n=7", "--wait", "2m", "--size", "3KiB", "a.png", "b.png"},
			toyConfig{Dir: "flag", N: 7, Wait: 2 * time.Minute, Size: 3 << 10}, []string{"a.png", "b.png"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got toyConfig
			var gotArgs []string
			err := toyCommand(&got, &gotArgs).run(context.Background(), c.args, func(k string) string { return c.env[k] }, io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want || strings.Join(gotArgs, " ") != strings.Join(c.wantArgs, " ") {
				t.Errorf("got %+v %q, want %+v %q", got, gotArgs, c.want, c.wantArgs)
			}
		})
	}
}

func TestFlagErrorsAreUsageErrorsNamingTheCulprit(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr error
		want    string // in the error or on stderr
	}{
		{"a bad environment value names the variable and the flag", map[string]string{"TOY_HALF_N": "x"}, nil, nil, "TOY_HALF_N"},
		{"an unknown flag is a usage error", nil, []string{"--bogus"}, errUsage, "bogus"},
		{"a bad flag value is a usage error", nil, []string{"--wait", "soon"}, errUsage, "-wait"},
		{"-h asks for help", nil, []string{"-h"}, flag.ErrHelp, "usage: app toy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			var got toyConfig
			var gotArgs []string
			err := toyCommand(&got, &gotArgs).run(context.Background(), c.args, func(k string) string { return c.env[k] }, io.Discard, &stderr)
			if err == nil {
				t.Fatal("accepted")
			}
			if c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Errorf("error %v, want %v", err, c.wantErr)
			}
			if all := err.Error() + stderr.String(); !strings.Contains(all, c.want) {
				t.Errorf("%q lacks %q", all, c.want)
			}
		})
	}
}

func TestUsageShowsEachFlagWithItsDefaultAndEnv(t *testing.T) {
	var stderr bytes.Buffer
	var got toyConfig
	var gotArgs []string
	// The environment must not change the defaults the help shows.
	env := map[string]string{"TOY_DIR": "elsewhere"}
	err := toyCommand(&got, &gotArgs).run(context.Background(), []string{"-h"}, func(k string) string { return env[k] }, io.Discard, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("got %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{
		"usage: app toy [flags] FILE...\n\nToy does nothing.\n\nflags:\n",
		"  --dir DIR\n    \tthe DIR to use (default here; env TOY_DIR)\n",
		"  --n N\n    \thow many (default 3; env TOY_HALF_N: half of it)\n",
		"  --wait D\n    \thow long to wait (default 1s)\n",
		"  --quiet\n    \tsay nothing (default false; env TOY_QUIET)\n",
		"  --size SIZE\n    \ta SIZE (default 1MiB)\n",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, stderr.String())
		}
	}
}

func TestPositionalArgumentsAreRefusedUnlessDeclared(t *testing.T) {
	var stderr bytes.Buffer
	err := cmdVersion.run(context.Background(), []string{"extra"}, func(string) string { return "" }, io.Discard, &stderr)
	if !errors.Is(err, errUsage) || !strings.Contains(stderr.String(), "unexpected arguments: [extra]") {
		t.Errorf("got %v and %q, want errUsage saying unexpected arguments", err, stderr.String())
	}
}

func TestEveryCommandHasItsHelp(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range commands() {
		name := c.Name()
		if seen[name] || c.Short == "" || !strings.HasPrefix(c.UsageLine, "app "+name) || c.Flag == nil {
			t.Errorf("command %q: duplicate, or missing its UsageLine, Short or Flag", name)
		}
		seen[name] = true
		if lookup(name) != c {
			t.Errorf("lookup(%q) does not find it", name)
		}
	}
}
