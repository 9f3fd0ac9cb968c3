package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // a bad key, a bad token, an unreadable file, a failed check
	exitUsage   = 2 // an unknown command or flag, a wrong number of arguments; a page check could not fetch
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// env is where a command reads and writes.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// A command is one subcommand: its name, the synopsis of its arguments, a
// one-line summary for the command list, a description for -h, how many
// positional arguments it takes (maxArgs < 0: no limit), whether flags may
// follow them (interspersed), and setup, which defines its flags on fs and
// returns the action that runs once they are parsed.
type command struct {
	name, synopsis   string
	short, doc       string
	minArgs, maxArgs int
	interspersed     bool
	setup            func(fs *flag.FlagSet) action
}

// An action runs a command with its flags parsed and its positional
// arguments args.
type action func(e *env, args []string) error

func commands() []*command {
	return []*command{
		keygenCommand(),
		signCommand(),
		verifyCommand(),
		snippetCommand(),
		mobileURLCommand(),
		jwksCommand(),
		checkCommand(),
	}
}

// run runs the command line args (without the program name) and returns the
// exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	cmds := commands()
	if len(args) == 0 {
		mainUsage(stderr, cmds)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		mainUsage(stdout, cmds)
		return exitOK
	case "help": // help [command]
		if len(args) == 1 {
			mainUsage(stdout, cmds)
			return exitOK
		}
		if len(args) > 2 {
			fmt.Fprintln(stderr, "usage: chatwidget help [command]")
			return exitUsage
		}
		if c := find(cmds, args[1]); c != nil {
			c.usage(stdout)
			return exitOK
		}
		name = args[1]
	}
	c := find(cmds, name)
	if c == nil {
		fmt.Fprintf(stderr, "chatwidget: unknown command %q\n", name)
		mainUsage(stderr, cmds)
		return exitUsage
	}
	return c.exit(e, c.run(e, args[1:]))
}

// run parses the command's flags and arguments and runs it.
func (c *command) run(e *env, args []string) error {
	fs := c.flags(e)
	act := c.setup(fs)
	args, err := c.parse(e, fs, args)
	if err != nil {
		return err
	}
	return act(e, args)
}

func find(cmds []*command, name string) *command {
	for _, c := range cmds {
		if c.name == name {
			return c
		}
	}
	return nil
}

func mainUsage(w io.Writer, cmds []*command) {
	fmt.Fprint(w, "usage: chatwidget <command> [flags] [arguments]\n\ncommands:\n")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.short)
	}
	fmt.Fprint(w, "\nRun 'chatwidget <command> -h' for the flags of a command.\n"+
		"Exit status: 0 ok, 1 failure (bad key, bad token, I/O, a check that failed),\n"+
		"2 usage error (or, for check, a page that could not be fetched).\n")
}

// errHelp reports that usage was asked for and printed.
var errHelp = errors.New("help requested")

// usageError is a command line that does not make sense: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// codeError is a failure with an exit code of its own, printed without the
// usage.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }

// exit prints err, if any, and returns the exit code it stands for.
func (c *command) exit(e *env, err error) int {
	var (
		ue *usageError
		ce *codeError
	)
	switch {
	case err == nil || errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ue):
		if ue.msg != "" {
			fmt.Fprintf(e.stderr, "chatwidget %s: %s\n", c.name, ue.msg)
		}
		fmt.Fprintf(e.stderr, "usage: chatwidget %s %s\nRun 'chatwidget %s -h' for details.\n", c.name, c.synopsis, c.name)
		return exitUsage
	case errors.As(err, &ce):
		fmt.Fprintf(e.stderr, "chatwidget %s: %s\n", c.name, message(err))
		return ce.code
	}
	fmt.Fprintf(e.stderr, "chatwidget %s: %s\n", c.name, message(err))
	return exitFailure
}

// message is err's text without the library's "chatwidget: " prefixes, which
// the command's own prefix replaces.
func message(err error) string {
	lines := strings.Split(err.Error(), "\n") // errors.Join puts one error a line
	for i, l := range lines {
		lines[i] = trimPrefix(l)
	}
	return strings.Join(lines, "\n  ")
}

// trimPrefix removes the library's "chatwidget: " prefix from a message.
func trimPrefix(s string) string {
	return strings.TrimPrefix(s, "chatwidget: ")
}

// flags returns an empty flag set for the command. Parse errors are printed
// by the flag package to stderr; usage is printed by exit or parse.
func (c *command) flags(e *env) *flag.FlagSet {
	fs := flag.NewFlagSet("chatwidget "+c.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {}
	return fs
}

// parse parses args into fs, checks the number of positional arguments and
// returns them. On -h it prints the usage to stdout and returns errHelp.
func (c *command) parse(e *env, fs *flag.FlagSet, args []string) ([]string, error) {
	pos, err := parseFlags(fs, args, c.interspersed)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(e.stdout)
			return nil, errHelp
		}
		return nil, &usageError{} // the flag package printed the reason
	}
	switch n := len(pos); {
	case n < c.minArgs:
		return nil, usagef("missing argument")
	case c.maxArgs >= 0 && n > c.maxArgs:
		return nil, usagef("too many arguments: %q", pos[c.maxArgs:])
	}
	return pos, nil
}

// parseFlags parses args into fs and returns the positional arguments. The
// flag package stops at the first of them; with interspersed, flags after
// one are parsed too, until a "--", after which everything is positional.
func parseFlags(fs *flag.FlagSet, args []string, interspersed bool) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if !interspersed || len(rest) == 0 {
			return append(pos, rest...), nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// usage prints the synopsis, description and flags of c to w.
func (c *command) usage(w io.Writer) {
	fmt.Fprintf(w, "usage: chatwidget %s %s\n\n%s\n", c.name, c.synopsis, c.doc)
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.setup(fs)
	var n int
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprint(w, "\nflags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}

// required reports a usage error naming the first empty flag.
func required(flags ...[2]string) error {
	for _, f := range flags {
		if f[1] == "" {
			return usagef("flag -%s is required", f[0])
		}
	}
	return nil
}
