package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// FlagSet is a command's flag.FlagSet that also records, for each flag, its
// environment variable and its default, so that the usage printer, the
// environment and the README's configuration table all read the same
// declarations. Each declaring method binds the flag straight to a field of
// a configuration struct, whose current value is the default:
//
//	fs.Int(&cfg.Train.Epochs, "train-epochs", "epochs of the first-boot training")
//	fs.String(&cfg.DB, "db", "PostgreSQL `URL`", Env("DATABASE_URL"))
//
// A back-quoted word in the help names the flag's argument (as in package
// flag); otherwise the argument is named after the type (N, F, D, VALUE).
type FlagSet struct {
	*flag.FlagSet
	decls []*FlagDecl
}

// FlagDecl is one declared flag.
type FlagDecl struct {
	Name    string // without dashes
	Arg     string // the argument's placeholder: DIR, N, URL; "" for a bool
	Usage   string // the help, the back-quoted argument name unquoted
	Default string // the value before the environment and the command line
	Env     *EnvVar

	value flag.Value
}

// EnvVar is the environment variable that sets a flag's value when the
// command line does not.
type EnvVar struct {
	Name string
	// Note says what the variable holds when it is not the flag's value
	// itself ("the port"); Map turns it into the flag's value.
	Note string
	Map  func(string) string
}

// Env declares that the variable name sets the flag.
func Env(name string) *EnvVar { return &EnvVar{Name: name} }

// EnvAs declares that the variable name sets the flag through mapVal, note
// saying what the variable holds: EnvAs("PORT", "the port", portAddr).
func EnvAs(name, note string, mapVal func(string) string) *EnvVar {
	return &EnvVar{Name: name, Note: note, Map: mapVal}
}

func (e *EnvVar) text() string {
	if e.Note == "" {
		return e.Name
	}
	return fmt.Sprintf("%s (%s)", e.Name, e.Note)
}

func newFlagSet(name string, output io.Writer) *FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(output)
	return &FlagSet{FlagSet: fs}
}

// String declares a string flag bound to p.
func (fs *FlagSet) String(p *string, name, usage string, env ...*EnvVar) {
	fs.StringVar(p, name, *p, usage)
	fs.record(name, env)
}

// Int declares an int flag bound to p.
func (fs *FlagSet) Int(p *int, name, usage string, env ...*EnvVar) {
	fs.IntVar(p, name, *p, usage)
	fs.record(name, env)
}

// Int64 declares an int64 flag bound to p.
func (fs *FlagSet) Int64(p *int64, name, usage string, env ...*EnvVar) {
	fs.Int64Var(p, name, *p, usage)
	fs.record(name, env)
}

// Float64 declares a float64 flag bound to p.
func (fs *FlagSet) Float64(p *float64, name, usage string, env ...*EnvVar) {
	fs.Float64Var(p, name, *p, usage)
	fs.record(name, env)
}

// Duration declares a duration flag bound to p (10s, 1m30s).
func (fs *FlagSet) Duration(p *time.Duration, name, usage string, env ...*EnvVar) {
	fs.DurationVar(p, name, *p, usage)
	fs.record(name, env)
}

// Bool declares a flag bound to p that takes no argument.
func (fs *FlagSet) Bool(p *bool, name, usage string, env ...*EnvVar) {
	fs.BoolVar(p, name, *p, usage)
	fs.record(name, env)
}

// Value declares a flag of a custom type v, which holds the default.
func (fs *FlagSet) Value(v flag.Value, name, usage string, env ...*EnvVar) {
	fs.Var(v, name, usage)
	fs.record(name, env)
}

// record keeps the declaration of the flag just defined.
func (fs *FlagSet) record(name string, env []*EnvVar) {
	f := fs.Lookup(name)
	arg, usage := flag.UnquoteUsage(f)
	if isBool(f.Value) {
		arg = ""
	} else if placeholder, ok := typePlaceholders[arg]; ok && !strings.Contains(f.Usage, "`") {
		arg = placeholder
	}
	d := &FlagDecl{Name: name, Arg: arg, Usage: usage, Default: f.Value.String(), value: f.Value}
	if len(env) > 1 {
		panic(fmt.Sprintf("flag --%s: more than one environment variable", name))
	}
	if len(env) == 1 {
		d.Env = env[0]
	}
	fs.decls = append(fs.decls, d)
}

// typePlaceholders renames flag.UnquoteUsage's type names.
var typePlaceholders = map[string]string{
	"int": "N", "uint": "N", "float": "F", "duration": "D", "string": "VALUE", "value": "VALUE",
}

func isBool(v flag.Value) bool {
	b, ok := v.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func (d *FlagDecl) defaultText() string {
	if d.Default == "" {
		return "empty"
	}
	return d.Default
}

// parse sets the flags from the environment (through getenv), then from
// args. A flag error, or positional arguments where allowArgs is false,
// prints the usage and returns errUsage; -h returns flag.ErrHelp.
func (fs *FlagSet) parse(args []string, getenv func(string) string, allowArgs bool) error {
	if err := fs.applyEnv(getenv); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage // the flag package printed the problem and the usage
	}
	if !allowArgs && fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		fs.Usage()
		return errUsage
	}
	return nil
}

// applyEnv sets every flag whose environment variable is set and not
// empty. It runs before the command line is parsed, so flags win.
func (fs *FlagSet) applyEnv(getenv func(string) string) error {
	for _, d := range fs.decls {
		if d.Env == nil {
			continue
		}
		v := getenv(d.Env.Name)
		if v == "" {
			continue
		}
		if d.Env.Map != nil {
			v = d.Env.Map(v)
		}
		if err := d.value.Set(v); err != nil {
			return fmt.Errorf("environment %s=%q (for --%s): %v", d.Env.Name, v, d.Name, err)
		}
	}
	return nil
}

// reparse reads flags that follow positional words, which package flag
// leaves unparsed, and returns the words alone: `app keys add --role
// predict alice`, `app models promote VERSION --models DIR`.
func reparse(fs *FlagSet, args []string) ([]string, error) {
	var words []string
	for len(args) > 0 {
		words = append(words, args[0])
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		args = fs.Args()
	}
	return words, nil
}

// dataFlag declares --data, the MNIST folder, for every command that reads it.
func dataFlag(fs *FlagSet, p *string) {
	fs.String(p, "data", "folder (`DIR`) of the four MNIST IDX files, raw or .gz", Env("MNIST_DIR"))
}

// modelsFlag declares --models, where models are kept, for every command
// that reads or writes models.
func modelsFlag(fs *FlagSet, p *string) {
	fs.String(p, "models", "where models are kept: a folder (`DIR`), or db for tables in the database --db names", Env("MODEL_DIR"))
}
