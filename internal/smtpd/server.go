package smtpd

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"

	"mailhorn/internal/conntrack"
	"mailhorn/internal/maillog"
)

// Server serves SMTP (or LMTP) sessions on listeners. Set the exported
// fields before the first Serve; they are not changed afterwards.
type Server struct {
	Opts      Options
	Policy    Policy           // nil: PermitAll
	Submitter Submitter        // where accepted messages go
	MailLog   *maillog.Service // the mail log ("mailhorn/smtpd"); nil: none
	Log       *slog.Logger     // operational log (panics, I/O errors); nil: slog.Default()

	once  sync.Once
	conns conntrack.Set
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = conntrack.ErrClosed

// init fills in the defaults of the unset fields, once.
func (srv *Server) init() {
	srv.once.Do(func() {
		if srv.MailLog == nil {
			srv.MailLog = maillog.New(io.Discard, "mailhorn", "localhost").Service("smtpd")
		}
		if srv.Log == nil {
			srv.Log = slog.Default()
		}
		if srv.Policy == nil {
			srv.Policy = PermitAll{}
		}
	})
}

// Serve accepts connections on ln and serves each in its own goroutine
// until ln fails or Shutdown is called. Cancelling ctx stops accepting,
// like Shutdown without waiting.
func (srv *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv.init()
	return srv.conns.Serve(ctx, ln, srv.handle)
}

// ServeConn serves one already accepted connection and returns when the
// session ends.
func (srv *Server) ServeConn(ctx context.Context, c net.Conn) {
	srv.init()
	srv.conns.ServeConn(ctx, c, srv.handle)
}

func (srv *Server) handle(ctx context.Context, c net.Conn) {
	s := newSession(srv, c)
	srv.conns.SetIdle(c, s.idle.Load)
	s.serve(ctx)
}

// Shutdown stops accepting, lets open sessions finish (each ends at its
// next command with 421 4.3.2; those waiting for one are woken to say it)
// until ctx is done, then closes the rest.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.init()
	return srv.conns.Shutdown(ctx)
}
