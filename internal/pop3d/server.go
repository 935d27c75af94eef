package pop3d

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	"mailhorn/internal/maillog"
	"mailhorn/internal/store"
)

// Server serves POP3 sessions on listeners. Set the exported fields
// before the first Serve; they are not changed afterwards.
type Server struct {
	Opts    Options
	Auth    Authenticator    // nil: every login fails with [SYS/TEMP]
	Users   UserResolver     // an authenticated user's maildrop
	Store   *store.Store     // where maildrops are opened
	MailLog *maillog.Service // "mailhorn/pop3d"; nil: none
	Log     *slog.Logger     // operational log; nil: slog.Default()
	// Locks is the one-session-per-mailbox table; services that share
	// mailboxes (110 and 995) must share it. nil: the Server's own.
	Locks *Locks

	// openBox opens a maildrop; nil: Store's INBOX. Tests set it to serve
	// an in-memory mailbox.
	openBox func(ctx context.Context, root string, q store.Quota) (mailbox, error)

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]*session
	perIP     map[netip.Addr]int
	wg        sync.WaitGroup
	closing   bool
	cancel    context.CancelFunc
	baseCtx   context.Context
}

// mailbox is what a session uses of a store.Mailbox.
type mailbox interface {
	Status() store.Status
	Messages() []store.Message
	Open(uid uint32) (io.ReadSeekCloser, error)
	Store(ctx context.Context, uids []uint32, op store.FlagOp, flags []string, unchangedSince uint64) ([]uint32, error)
	Expunge(ctx context.Context, uids []uint32) (store.Changes, error)
	Close() error
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("pop3d: server closed")

// Locks holds the mailboxes that have a POP3 session, by root directory.
type Locks struct {
	mu   sync.Mutex
	held map[string]bool
}

// NewLocks returns an empty lock table.
func NewLocks() *Locks { return &Locks{held: map[string]bool{}} }

// lock takes root's lock; false if another session has it.
func (l *Locks) lock(root string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[root] {
		return false
	}
	l.held[root] = true
	return true
}

func (l *Locks) unlock(root string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.held, root)
}

func lockKey(root string) string { return filepath.Clean(root) }

func (srv *Server) init(ctx context.Context) {
	if srv.conns != nil {
		return
	}
	srv.listeners = map[net.Listener]struct{}{}
	srv.conns = map[net.Conn]*session{}
	srv.perIP = map[netip.Addr]int{}
	// Sessions outlive the ctx of one Serve call: Shutdown ends them.
	srv.baseCtx, srv.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if srv.MailLog == nil {
		srv.MailLog = maillog.New(io.Discard, "mailhorn", "localhost").Service("pop3d")
	}
	if srv.Log == nil {
		srv.Log = slog.Default()
	}
	if srv.Locks == nil {
		srv.Locks = NewLocks()
	}
	if srv.openBox == nil {
		srv.openBox = srv.openStoreBox
	}
}

// openStoreBox opens the INBOX of the tree at root in the Store.
func (srv *Server) openStoreBox(ctx context.Context, root string, q store.Quota) (mailbox, error) {
	if srv.Store == nil {
		return nil, errors.New("no message store")
	}
	u, err := srv.Store.OpenUser(ctx, root, q)
	if err != nil {
		return nil, err
	}
	defer u.Close()
	m, err := u.Open(ctx, "INBOX")
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Serve accepts connections on ln and serves each in its own goroutine
// until ln fails or Shutdown is called. Cancelling ctx stops accepting.
func (srv *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv.mu.Lock()
	srv.init(ctx)
	if srv.closing {
		srv.mu.Unlock()
		return ErrServerClosed
	}
	srv.listeners[ln] = struct{}{}
	srv.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer func() {
		srv.mu.Lock()
		delete(srv.listeners, ln)
		srv.mu.Unlock()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if srv.shuttingDown() || ctx.Err() != nil {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		if !srv.track(c) {
			c.Close()
			return ErrServerClosed
		}
		go srv.serveTracked(c)
	}
}

// ServeConn serves one accepted connection and returns when it ends.
func (srv *Server) ServeConn(ctx context.Context, c net.Conn) {
	srv.mu.Lock()
	srv.init(ctx)
	srv.mu.Unlock()
	if !srv.track(c) {
		c.Close()
		return
	}
	srv.serveTracked(c)
}

func (srv *Server) track(c net.Conn) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.closing {
		return false
	}
	srv.conns[c] = nil
	srv.wg.Add(1)
	return true
}

func (srv *Server) serveTracked(c net.Conn) {
	defer srv.wg.Done()
	defer func() {
		c.Close()
		srv.mu.Lock()
		delete(srv.conns, c)
		srv.mu.Unlock()
	}()
	s := newSession(srv, c)
	srv.mu.Lock()
	srv.conns[c] = s
	srv.mu.Unlock()
	s.serve(srv.baseCtx)
}

// connOpened counts a connection from addr and returns how many are open
// now, this one included.
func (srv *Server) connOpened(addr netip.Addr) int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	srv.perIP[addr]++
	return srv.perIP[addr]
}

func (srv *Server) connClosed(addr netip.Addr) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.perIP[addr]--; srv.perIP[addr] <= 0 {
		delete(srv.perIP, addr)
	}
}

func (srv *Server) shuttingDown() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.closing
}

// Shutdown stops accepting and ends the sessions: those waiting for a
// command are told "-ERR [SYS/TEMP] Server shutting down." at once and
// change nothing (no UPDATE state); those in the middle of a command
// finish it. When ctx is done first, the rest are closed.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	srv.init(ctx)
	srv.closing = true
	for ln := range srv.listeners {
		ln.Close()
	}
	for c, s := range srv.conns {
		if s != nil && s.idle.Load() {
			c.SetReadDeadline(time.Now())
		}
	}
	srv.mu.Unlock()
	done := make(chan struct{})
	go func() {
		srv.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	srv.cancel()
	srv.mu.Lock()
	for c := range srv.conns {
		c.Close()
	}
	srv.mu.Unlock()
	<-done
	return ctx.Err()
}
