package pop3d

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"

	"mailhorn/internal/conntrack"
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

	once  sync.Once
	conns conntrack.Set
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
var ErrServerClosed = conntrack.ErrClosed

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

// init fills in the defaults of the unset fields, once.
func (srv *Server) init() {
	srv.once.Do(func() {
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
	})
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
	srv.init()
	return srv.conns.Serve(ctx, ln, srv.handle)
}

// ServeConn serves one accepted connection and returns when it ends.
func (srv *Server) ServeConn(ctx context.Context, c net.Conn) {
	srv.init()
	srv.conns.ServeConn(ctx, c, srv.handle)
}

func (srv *Server) handle(ctx context.Context, c net.Conn) {
	s := newSession(srv, c)
	srv.conns.SetIdle(c, s.idle.Load)
	s.serve(ctx)
}

// Shutdown stops accepting and ends the sessions: those waiting for a
// command are told "-ERR [SYS/TEMP] Server shutting down." at once and
// change nothing (no UPDATE state); those in the middle of a command
// finish it. When ctx is done first, the rest are closed.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.init()
	return srv.conns.Shutdown(ctx)
}
