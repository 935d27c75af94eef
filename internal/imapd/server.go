package imapd

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"mailhorn/internal/conntrack"
	"mailhorn/internal/maillog"
	"mailhorn/internal/store"
)

// Server serves IMAP sessions on listeners. Set the exported fields before
// the first Serve; they are not changed afterwards.
type Server struct {
	Opts    Options
	Auth    Authenticator
	Users   UserResolver
	Store   *store.Store
	MailLog *maillog.Service // Dovecot-like "imap-login:" lines; nil: none
	Log     *slog.Logger     // operational log; nil: slog.Default()

	once  sync.Once
	conns conntrack.Set
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = conntrack.ErrClosed

// init fills in the defaults of the unset fields, once.
func (srv *Server) init() {
	srv.once.Do(func() {
		if srv.MailLog == nil {
			srv.MailLog = maillog.New(io.Discard, "mailhorn", "localhost").Service("imapd")
		}
		if srv.Log == nil {
			srv.Log = slog.Default()
		}
		if srv.Opts.LineLimit <= 0 {
			srv.Opts.LineLimit = DefaultOptions().LineLimit
		}
		if srv.Opts.IdleSync <= 0 {
			srv.Opts.IdleSync = 5 * time.Second
		}
	})
}

// Serve accepts connections on ln and serves each in its own goroutine
// until ln fails or Shutdown is called; cancelling ctx stops accepting.
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
	srv.conns.SetIdle(c, s.waiting.Load)
	s.serve(ctx)
}

// connOpened counts a connection from addr; it returns false (and counts
// nothing) when the client is over ConnLimit.
func (srv *Server) connOpened(addr netip.Addr) bool {
	_, ok := srv.conns.Opened(addr, srv.Opts.ConnLimit)
	return ok
}

func (srv *Server) connClosed(addr netip.Addr) { srv.conns.Closed(addr) }

func (srv *Server) shuttingDown() bool { return srv.conns.Closing() }

// Shutdown stops accepting and ends the sessions: those waiting for a
// command or idling get "* BYE Server shutting down" at once, the others
// after their current command. When ctx is done first, the rest are closed.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.init()
	return srv.conns.Shutdown(ctx)
}
