// Command mailhorn is the whole mail system in one binary: the daemons and the
// administration tools, as subcommands. Invoked through a symlink named after a
// sendmail-compatible command (newaliases, later sendmail and mailq), it behaves
// as that command.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// env is what a subcommand may touch of the process, so that tests can run
// subcommands in-process with buffers.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

type command struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) int
}

// commands maps subcommand names to their implementations; each lives in its
// own file (conf.go, map.go, ...).
var commands = map[string]command{
	"conf":         {"show or edit main.cf and master.cf (postconf)", runConf},
	"map":          {"build and query lookup tables (postmap)", runMap},
	"alias":        {"build and query alias tables (postalias)", runAlias},
	"newaliases":   {"rebuild the alias database(s) (newaliases)", runNewaliases},
	"resolve":      {"show how an address is rewritten and routed (trivial-rewrite)", runResolve},
	"start":        {"start the mail system in the background (postfix start)", runStart},
	"start-fg":     {"run the mail system in the foreground (postfix start-fg)", runStartFg},
	"stop":         {"stop the mail system, letting deliveries finish (postfix stop)", runStop},
	"reload":       {"re-read the configuration and tables without dropping connections (postfix reload)", runReload},
	"status":       {"tell whether the mail system is running (postfix status)", runStatus},
	"check":        {"validate the configuration, tables and queue directory (postfix check)", runCheck},
	"demo":         {"set up and run a demo mail system in a local folder", runDemo},
	"queue":        {"list the queue, ask for deliveries (postqueue; mailq)", runQueue},
	"mailq":        {"list the queue (postqueue -p)", runMailq},
	"super":        {"delete, hold, release, requeue messages; repair the queue (postsuper)", runSuper},
	"cat":          {"show a queue file: envelope, headers, body (postcat)", runCat},
	"privhelper":   {"(internal) one delivery as a user, started by the mail system", runPrivsepHelper},
	"master-child": {"(internal) the mail system proper, started as mail_owner by start/start-fg", runMasterChild},
	"sendmail":     {"submit mail from the command line (sendmail)", runSendmail},
	"tls":          {"write a self-signed certificate for first runs and tests (tls selfsigned)", runTLS},
	"user":         {"manage virtual users and passwords: add, passwd, del, list, check, hash", runUser},
}

// multiCall maps the names under which the binary may be installed (as a
// symlink) to the subcommand they stand for.
var multiCall = map[string]string{
	"newaliases": "newaliases",
	"mailq":      "mailq",
	"sendmail":   "sendmail",
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	code := dispatch(ctx, e, filepath.Base(os.Args[0]), os.Args[1:])
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, e *env, argv0 string, args []string) int {
	if name, ok := multiCall[argv0]; ok {
		return commands[name].run(ctx, e, args)
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "mailhorn: unknown command %q (try \"mailhorn help\")\n", args[0])
		return 2
	}
	return cmd.run(ctx, e, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: mailhorn COMMAND [options] [args]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if s := commands[n].summary; !strings.HasPrefix(s, "(internal)") {
			fmt.Fprintf(w, "  %-12s %s\n", n, s)
		}
	}
	fmt.Fprintln(w, "\nEvery command takes -c DIR for the configuration directory (default $MAILHORN_CONFIG_DIR, else /etc/mailhorn).")
}
