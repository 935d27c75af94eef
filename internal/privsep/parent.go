package privsep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

// The environment a child started by RunParent finds its inherited
// descriptors through.
const (
	// EnvSocket is the descriptor number of the child's privsep socket.
	EnvSocket = "MAILHORN_PRIVSEP_FD"
	// EnvListeners names the inherited listeners, space-separated, in
	// descriptor order from EnvSocket+1.
	EnvListeners = "MAILHORN_LISTENERS"
)

// Listener is a bound socket handed to the child, with the name of its
// master.cf service.
type Listener struct {
	Name string
	File *os.File
}

// ParentOptions say how RunParent starts the mail system.
type ParentOptions struct {
	// Exe and Args start the child (the mail system proper), e.g.
	// /proc/self/exe and {"master-child", "-c", DIR}; Env is added to the
	// environment the child gets (the parent's own).
	Exe  string
	Args []string
	Env  []string
	// UID, GID: mail_owner's; the child gets no other group.
	UID, GID int
	// Listeners are the sockets the parent bound (ports below 1024
	// included) for the child to serve.
	Listeners []Listener
	// Stdout, Stderr of the child; nil: the parent's.
	Stdout, Stderr io.Writer
	// Spawner serves the child's delivery requests.
	Spawner *Spawner
	// Reload is called on SIGHUP before the signal is passed on, so that
	// the parent re-reads its policy; nil: none.
	Reload func()
	// Started, if set, is called once the child runs: the listeners are
	// bound already, so connections wait in their backlog until it serves.
	Started func()
	Log     *slog.Logger
}

// RunParent is the whole root side of privilege separation: it starts the
// mail system as a child process running as mail_owner with the listeners
// and the privsep socket as inherited descriptors, passes SIGHUP, SIGTERM
// and SIGINT on to it (SIGTERM too when ctx is done), serves its delivery
// requests with o.Spawner, and returns the child's exit status once it has
// exited.
func RunParent(ctx context.Context, o ParentOptions) (int, error) {
	if o.Spawner == nil {
		return 1, errors.New("no Spawner for the delivery requests")
	}
	if o.UID == 0 || o.GID == 0 {
		return 1, errors.New("the mail system must not run as root (mail_owner uid or gid 0)")
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	parentEnd, childEnd, err := SocketPair()
	if err != nil {
		return 1, err
	}
	exe := o.Exe
	if exe == "" {
		exe = "/proc/self/exe"
	}
	cmd := exec.Command(exe, o.Args...)
	names := make([]string, 0, len(o.Listeners))
	cmd.ExtraFiles = []*os.File{childEnd}
	for _, l := range o.Listeners {
		if strings.ContainsAny(l.Name, " \t\n") || l.Name == "" {
			childEnd.Close()
			parentEnd.Close()
			return 1, fmt.Errorf("listener name %q", l.Name)
		}
		names = append(names, l.Name)
		cmd.ExtraFiles = append(cmd.ExtraFiles, l.File)
	}
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.Env = append(cmd.Env, EnvSocket+"=3", EnvListeners+"="+strings.Join(names, " "))
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = o.Stdout, o.Stderr
	if cmd.Stdout == nil {
		cmd.Stdout = os.Stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(o.UID), Gid: uint32(o.GID), Groups: []uint32{uint32(o.GID)}},
		// If the parent dies, the mail system stops: it could no longer
		// deliver as the users.
		Pdeathsig: syscall.SIGTERM,
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		childEnd.Close()
		parentEnd.Close()
		return 1, fmt.Errorf("start the mail system as uid %d: %w", o.UID, err)
	}
	childEnd.Close()
	if o.Started != nil {
		o.Started()
	}
	// The listeners now live in the child; the parent reads no network
	// input.
	for _, l := range o.Listeners {
		l.File.Close()
	}
	serveCtx, stopServe := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- Serve(serveCtx, parentEnd, o.Spawner) }()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	done := ctx.Done()
	var waitErr error
loop:
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP && o.Reload != nil {
				o.Reload()
			}
			cmd.Process.Signal(sig)
		case <-done:
			done = nil
			cmd.Process.Signal(syscall.SIGTERM)
		case waitErr = <-exited:
			break loop
		}
	}
	// Deliveries still running for the exited child are cancelled.
	stopServe()
	if err := <-served; err != nil {
		log.Warn("privsep", "err", err)
	}
	var ee *exec.ExitError
	switch {
	case waitErr == nil:
		return 0, nil
	case errors.As(waitErr, &ee):
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			return 128 + int(st.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 1, waitErr
}

// ListenerFile returns the file behind a bound listener, for
// ParentOptions.Listeners (a duplicate: close the listener after).
func ListenerFile(l net.Listener) (*os.File, error) {
	fl, ok := l.(interface{ File() (*os.File, error) })
	if !ok {
		return nil, fmt.Errorf("listener %v has no file", l.Addr())
	}
	return fl.File()
}

// Inherited is what a child started by RunParent finds: the runner that
// reaches the privileged parent and the listeners it bound. ok is false
// when the process was not started that way (no EnvSocket).
func Inherited(getenv func(string) string) (client *Client, listeners []NamedListener, ok bool, err error) {
	v := getenv(EnvSocket)
	if v == "" {
		return nil, nil, false, nil
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, nil, true, fmt.Errorf("%s=%q: not a descriptor", EnvSocket, v)
	}
	client, err = NewClient(os.NewFile(uintptr(fd), "privsep"))
	if err != nil {
		return nil, nil, true, err
	}
	for i, name := range strings.Fields(getenv(EnvListeners)) {
		f := os.NewFile(uintptr(fd+1+i), name)
		l, err := net.FileListener(f)
		f.Close()
		if err != nil {
			client.Close()
			for _, nl := range listeners {
				nl.Listener.Close()
			}
			return nil, nil, true, fmt.Errorf("inherited listener %s (fd %d): %w", name, fd+1+i, err)
		}
		listeners = append(listeners, NamedListener{Name: name, Listener: l})
	}
	return client, listeners, true, nil
}

// NamedListener is an inherited listener and its service name.
type NamedListener struct {
	Name     string
	Listener net.Listener
}
