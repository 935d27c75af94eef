package imapd

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

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

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]*session
	perIP     map[netip.Addr]int
	wg        sync.WaitGroup
	closing   bool
	cancel    context.CancelFunc
	baseCtx   context.Context
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("imapd: server closed")

func (srv *Server) init(ctx context.Context) {
	if srv.conns != nil {
		return
	}
	srv.listeners = map[net.Listener]struct{}{}
	srv.conns = map[net.Conn]*session{}
	srv.perIP = map[netip.Addr]int{}
	srv.baseCtx, srv.cancel = context.WithCancel(context.WithoutCancel(ctx))
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
}

// Serve accepts connections on ln and serves each in its own goroutine
// until ln fails or Shutdown is called; cancelling ctx stops accepting.
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

// connOpened counts a connection from addr; it returns false (and counts
// nothing) when the client is over ConnLimit.
func (srv *Server) connOpened(addr netip.Addr) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.Opts.ConnLimit > 0 && srv.perIP[addr] >= srv.Opts.ConnLimit {
		return false
	}
	srv.perIP[addr]++
	return true
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
// command or idling get "* BYE Server shutting down" at once, the others
// after their current command. When ctx is done first, the rest are closed.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	srv.init(ctx)
	srv.closing = true
	for ln := range srv.listeners {
		ln.Close()
	}
	for c, s := range srv.conns {
		if s != nil && s.waiting.Load() {
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
