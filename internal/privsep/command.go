package privsep

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"mailhorn/internal/deliver"
)

// DefaultPath is the PATH commands get, as Postfix's _PATH_DEFPATH.
const DefaultPath = "/usr/bin:/bin"

// defaultOutputLimit is how much command output is kept for the result
// text when the request does not say.
const defaultOutputLimit = 2048

// shellMeta are the characters that make local(8) run a command line
// through the shell rather than directly.
const shellMeta = "\"'`$\\;&|<>()[]{}*?~#=\n\r!^"

// shellBuiltins start command lines that need the shell.
var shellBuiltins = map[string]bool{
	"exec": true, "exit": true, "export": true, "set": true, "unset": true, "cd": true,
	"read": true, "eval": true, ".": true, ":": true, "ulimit": true, "umask": true, "trap": true,
	"if": true, "for": true, "while": true, "until": true, "case": true, "test": true, "[": true,
}

// commandArgv is how a request's command is executed: Argv as given; a
// Shell command line directly when it has no shell syntax (split at white
// space), else with the shell.
func commandArgv(req *Request) []string {
	if len(req.Argv) > 0 {
		return req.Argv
	}
	sh := req.ShellPath
	if sh == "" {
		sh = "/bin/sh"
	}
	fields := strings.Fields(req.Shell)
	if req.ShellPath != "" || strings.ContainsAny(req.Shell, shellMeta) || len(fields) == 0 || shellBuiltins[fields[0]] || !strings.HasPrefix(fields[0], "/") {
		return []string{sh, "-c", req.Shell}
	}
	return fields
}

// commandName is the command as error texts quote it.
func commandName(req *Request) string {
	if len(req.Argv) > 0 {
		return strings.Join(req.Argv, " ")
	}
	return req.Shell
}

// limitedBuffer keeps the first n bytes written and discards the rest,
// never failing: the command must not get SIGPIPE for talking too much.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	n   int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.n - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runCommand runs the request's command in a process group of its own,
// with the message on its standard input, as Postfix's pipe_command: the
// output (stdout and stderr) is kept up to OutputLimit for the result
// text; past TimeLimit the whole process group is killed; the exit status
// maps through sysexits.
func runCommand(ctx context.Context, req *Request) Result {
	argv := commandArgv(req)
	name := commandName(req)
	if req.TimeLimit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.TimeLimit)
		defer cancel()
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = req.Env
	if cmd.Env == nil {
		cmd.Env = []string{"PATH=" + DefaultPath}
	}
	cmd.Dir = "/"
	if req.Dir != "" {
		if fi, err := os.Stat(req.Dir); err == nil && fi.IsDir() {
			cmd.Dir = req.Dir
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	limit := req.OutputLimit
	if limit <= 0 {
		limit = defaultOutputLimit
	}
	out := &limitedBuffer{n: limit}
	cmd.Stdout, cmd.Stderr = out, out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return Resultf(deliver.Deferred, "4.3.0", "Command failed: %v: %q", err, name)
	}
	// Once the command is done, output pipes held open by its offspring do
	// not keep us waiting for long.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return startFailure(err, name)
	}
	pgid := cmd.Process.Pid
	killed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		syscall.Kill(-pgid, syscall.SIGKILL)
		close(killed)
	})

	// Feed the message; a command that exits without reading it all is
	// not an error (EPIPE), as with Postfix.
	writeErr := make(chan error, 1)
	go func() {
		cr := &countReader{r: req.Content}
		err := writeMessage(stdin, req.Copy, cr)
		if err == nil && cr.n != req.Size {
			err = readError{errors.New("message content shorter than announced")}
		}
		stdin.Close()
		writeErr <- err
	}()
	waitErr := cmd.Wait()
	stopped := !stop()
	if stopped {
		<-killed
	}
	werr := <-writeErr
	text := strings.TrimSpace(out.String())
	withOutput := func(s string) string {
		if text == "" {
			return s
		}
		return s + ". Command output: " + text
	}
	if stopped {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && req.TimeLimit > 0 {
			return Resultf(deliver.Deferred, "4.3.0", "%s", withOutput(fmt.Sprintf("Command time limit exceeded: %q", name)))
		}
		return Resultf(deliver.Deferred, "4.3.0", "%s", withOutput(fmt.Sprintf("delivery interrupted: %q", name)))
	}
	var ee *exec.ExitError
	switch {
	case errors.As(waitErr, &ee):
		st, _ := ee.Sys().(syscall.WaitStatus)
		if st.Signaled() {
			return Resultf(deliver.Deferred, "4.3.0", "%s", withOutput(fmt.Sprintf("Command died with signal %d: %q", int(st.Signal()), name)))
		}
		return exitResult(ee.ExitCode(), name, text, withOutput)
	case waitErr != nil && !errors.Is(waitErr, exec.ErrWaitDelay):
		return Resultf(deliver.Deferred, "4.3.0", "Command failed: %v: %q", waitErr, name)
	}
	var re readError
	switch {
	case errors.As(werr, &re):
		return Resultf(deliver.Deferred, "4.3.0", "error reading message: %v", werr)
	case werr != nil && !errors.Is(werr, syscall.EPIPE) && !errors.Is(werr, os.ErrClosed):
		return Resultf(deliver.Deferred, "4.3.0", "Command failed: %v: %q", werr, name)
	}
	return Resultf(deliver.Sent, "2.0.0", "delivered to command: %s", name)
}

// startFailure: a command that cannot be started. A missing program is a
// permanent problem (as the shell's exit 127 would be); anything else is
// worth another try.
func startFailure(err error, name string) Result {
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) || errors.Is(err, exec.ErrNotFound) {
		return Resultf(deliver.Bounced, "5.3.0", "Command failed: %v: %q", err, name)
	}
	return Resultf(deliver.Deferred, "4.3.0", "Command failed: %v: %q", err, name)
}

// exitResult maps a non-zero exit status: an RFC 3463 code at the start of
// the output wins; else a sysexits(3) code gives the status; any other
// code bounces (5.3.0), as Postfix's pipe_command.
func exitResult(code int, name, output string, withOutput func(string) string) Result {
	if dsn, rest, ok := leadingDSN(output); ok {
		return Resultf(deliver.StatusOf(dsn), dsn, "%s", rest)
	}
	if e, ok := sysexits[code]; ok {
		return Resultf(deliver.StatusOf(e.dsn), e.dsn, "%s", withOutput(e.text))
	}
	return Resultf(deliver.Bounced, "5.3.0", "%s", withOutput(fmt.Sprintf("Command died with status %d: %q", code, name)))
}

// leadingDSN finds an enhanced status code ("4.x.y" or "5.x.y") at the
// start of a command's output.
func leadingDSN(s string) (dsn, rest string, ok bool) {
	end := strings.IndexAny(s, " \t\r\n")
	if end < 0 {
		end = len(s)
	}
	d := s[:end]
	parts := strings.Split(d, ".")
	if len(parts) != 3 || (parts[0] != "4" && parts[0] != "5") {
		return "", "", false
	}
	for _, p := range parts[1:] {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return "", "", false
		}
	}
	rest = strings.TrimSpace(s[end:])
	if rest == "" {
		rest = d
	}
	return d, rest, true
}

type exitCode struct{ dsn, text string }

// sysexits is Postfix's sys_exits table.
var sysexits = map[int]exitCode{
	64: {"5.3.0", "command line usage error"},
	65: {"5.6.0", "data format error"},
	66: {"5.3.0", "cannot open input"},
	67: {"5.1.1", "user unknown"},
	68: {"5.1.2", "host name unknown"},
	69: {"5.3.0", "service unavailable"},
	70: {"5.3.0", "internal software error"},
	71: {"4.3.0", "system resource problem"},
	72: {"5.3.0", "critical OS file missing"},
	73: {"5.2.0", "can't create user output file"},
	74: {"5.3.0", "input/output error"},
	75: {"4.3.0", "temporary failure"},
	76: {"5.5.0", "remote error in protocol"},
	77: {"5.7.0", "permission denied"},
	78: {"5.3.5", "local configuration error"},
}

// BaseEnv is the start of a delivery command's environment, as local(8)
// and pipe(8) build it: PATH, then the export_environment entries (a NAME
// is passed on from getenv when set there, NAME=value is set as given).
func BaseEnv(export []string, getenv func(string) string) []string {
	if getenv == nil {
		getenv = os.Getenv
	}
	env := []string{"PATH=" + DefaultPath}
	for _, e := range export {
		if strings.Contains(e, "=") {
			env = append(env, e)
		} else if v := getenv(e); v != "" {
			env = append(env, e+"="+v)
		}
	}
	return env
}
