package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"mailhorn/internal/config"
	"mailhorn/internal/master"
)

// The daemon commands are postfix(1)'s: start, start-fg, stop, reload,
// status, check.

func daemonFlags(e *env, name string, args []string) (string, bool) {
	fs := flag.NewFlagSet("mailhorn "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dir := fs.String("c", "", "configuration directory")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		if err == nil {
			fmt.Fprintf(e.stderr, "usage: mailhorn %s [-c DIR]\n", name)
		}
		return "", false
	}
	return config.Dir(*dir, e.getenv), true
}

// daemonPID parses the flags of a daemon command and finds the pid file of
// the configuration's queue. code is the exit status when that failed
// (2: usage, 1: configuration), else 0.
func daemonPID(e *env, name string, args []string) (dir, pidFile string, code int) {
	dir, ok := daemonFlags(e, name, args)
	if !ok {
		return "", "", 2
	}
	cfg, err := config.Load(dir, func(string) {})
	if err != nil {
		fmt.Fprintf(e.stderr, "mailhorn: fatal: %v\n", err)
		return "", "", 1
	}
	return dir, master.PIDPath(cfg.Get("queue_directory")), 0
}

// runStartFg runs the mail system in the foreground until SIGTERM or
// SIGINT, logging to stderr (or maillog_file); SIGHUP reloads.
func runStartFg(ctx context.Context, e *env, args []string) int {
	dir, ok := daemonFlags(e, "start-fg", args)
	if !ok {
		return 2
	}
	reload, stopHUP := reloadOnHUP()
	defer stopHUP()
	o := master.Options{ConfigDir: dir, LogTo: e.stderr, Reload: reload}
	// "mailhorn start" passes a pipe on which to say that we are up, and
	// asks for syslog.
	if fd, err := strconv.Atoi(e.getenv("MAILHORN_READY_FD")); err == nil {
		ready := os.NewFile(uintptr(fd), "ready")
		o.Ready = func() {
			fmt.Fprintln(ready, "ready")
			ready.Close()
		}
		o.Syslog = e.getenv("MAILHORN_SYSLOG") == "1"
	}
	if err := master.Run(ctx, o); err != nil {
		fmt.Fprintf(e.stderr, "mailhorn: fatal: %v\n", err)
		return 1
	}
	return 0
}

// reloadOnHUP turns SIGHUP into reload requests for master.Run.
func reloadOnHUP() (<-chan struct{}, func()) {
	reload := make(chan struct{}, 1)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()
	return reload, func() { signal.Stop(hup); close(hup) }
}

// runMasterChild is the mail system proper when a root parent started it
// as mail_owner (privilege separation); never run by hand.
func runMasterChild(ctx context.Context, e *env, args []string) int {
	dir, ok := daemonFlags(e, "master-child", args)
	if !ok {
		return 2
	}
	reload, stopHUP := reloadOnHUP()
	defer stopHUP()
	o := master.Options{ConfigDir: dir, LogTo: e.stderr, Reload: reload, Inherited: true,
		Syslog: e.getenv("MAILHORN_SYSLOG") == "1"}
	if err := master.Run(ctx, o); err != nil {
		fmt.Fprintf(e.stderr, "mailhorn: fatal: %v\n", err)
		return 1
	}
	return 0
}

// runStart starts the mail system in the background and returns once it
// accepts connections, or with its error.
func runStart(ctx context.Context, e *env, args []string) int {
	dir, pp, code := daemonPID(e, "start", args)
	if code != 0 {
		return code
	}
	if pid, _ := master.Running(pp); pid != 0 {
		fmt.Fprintf(e.stderr, "mailhorn: fatal: the mail system is already running (pid %d)\n", pid)
		return 1
	}
	if errs := master.Check(ctx, dir, e.stderr); len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintf(e.stderr, "mailhorn: fatal: %v\n", err)
		}
		return 1
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(e.stderr, "mailhorn: fatal: %v\n", err)
		return 1
	}
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(e.stderr, "mailhorn: fatal: %v\n", err)
		return 1
	}
	errlog, err := os.CreateTemp("", "mailhorn-start-*")
	if err != nil {
		fmt.Fprintf(e.stderr, "mailhorn: fatal: %v\n", err)
		return 1
	}
	defer os.Remove(errlog.Name())
	defer errlog.Close()
	cmd := exec.Command(exe, "start-fg", "-c", dir)
	cmd.Env = append(os.Environ(), "MAILHORN_READY_FD=3", "MAILHORN_SYSLOG=1", "MAILHORN_CONFIG_DIR="+dir)
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stderr = errlog
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(e.stderr, "mailhorn: fatal: %v\n", err)
		return 1
	}
	w.Close()
	line, _ := bufio.NewReader(r).ReadString('\n')
	r.Close()
	if strings.TrimSpace(line) != "ready" {
		cmd.Wait()
		out, _ := os.ReadFile(errlog.Name())
		e.stderr.Write(out)
		fmt.Fprintln(e.stderr, "mailhorn: fatal: the mail system did not start")
		return 1
	}
	cmd.Process.Release()
	fmt.Fprintln(e.stderr, "mailhorn: starting the mail system")
	return 0
}

func runStop(ctx context.Context, e *env, args []string) int {
	return signalMaster(ctx, e, "stop", args, syscall.SIGTERM)
}

func runReload(ctx context.Context, e *env, args []string) int {
	return signalMaster(ctx, e, "reload", args, syscall.SIGHUP)
}

func signalMaster(ctx context.Context, e *env, name string, args []string, sig syscall.Signal) int {
	_, pp, code := daemonPID(e, name, args)
	if code != 0 {
		return code
	}
	pid, err := master.Running(pp)
	if err != nil || pid == 0 {
		fmt.Fprintln(e.stderr, "mailhorn: fatal: the mail system is not running")
		return 1
	}
	if err := syscall.Kill(pid, sig); err != nil {
		fmt.Fprintf(e.stderr, "mailhorn: fatal: signal pid %d: %v\n", pid, err)
		return 1
	}
	if sig != syscall.SIGTERM {
		fmt.Fprintln(e.stderr, "mailhorn: refreshing the mail system")
		return 0
	}
	fmt.Fprintln(e.stderr, "mailhorn: stopping the mail system")
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		if p, _ := master.Running(pp); p == 0 {
			return 0
		}
		select {
		case <-ctx.Done():
			return 1
		case <-time.After(50 * time.Millisecond):
		}
	}
	fmt.Fprintf(e.stderr, "mailhorn: fatal: pid %d did not stop within a minute\n", pid)
	return 1
}

func runStatus(ctx context.Context, e *env, args []string) int {
	_, pp, code := daemonPID(e, "status", args)
	if code != 0 {
		return code
	}
	pid, err := master.Running(pp)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(e.stderr, "mailhorn: fatal: %v\n", err)
		return 1
	}
	if pid == 0 {
		fmt.Fprintln(e.stderr, "mailhorn: the mail system is not running")
		return 1
	}
	fmt.Fprintf(e.stderr, "mailhorn: the mail system is running: PID: %d\n", pid)
	return 0
}

func runCheck(ctx context.Context, e *env, args []string) int {
	dir, ok := daemonFlags(e, "check", args)
	if !ok {
		return 2
	}
	errs := master.Check(ctx, dir, e.stderr)
	for _, err := range errs {
		fmt.Fprintf(e.stderr, "mailhorn: fatal: %v\n", err)
	}
	if len(errs) > 0 {
		return 1
	}
	return 0
}
