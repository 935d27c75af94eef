// Package conntrack is the connection-serving plumbing shared by the
// network servers (smtpd, imapd, pop3d): the accept loop, the set of open
// connections, per-client-address connection counts, and a graceful
// shutdown that wakes idle sessions and force-closes the rest at a
// deadline. The protocol part (greeting, the goodbye text, the session
// itself) stays with each server.
package conntrack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// ErrClosed is returned by Serve after Shutdown.
var ErrClosed = errors.New("server closed")

// A Handler serves one connection until its session ends. ctx is the
// sessions' context: it outlives the Serve call that accepted the
// connection and is cancelled when Shutdown gives up waiting.
type Handler func(ctx context.Context, c net.Conn)

// Set tracks the listeners and connections of one server. The zero Set
// is ready to use; a Set must not be copied after first use.
type Set struct {
	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]func() bool // the connection's idle test; nil: never idle
	perAddr   map[netip.Addr]int
	wg        sync.WaitGroup
	closing   bool
	ctx       context.Context // the sessions' context
	cancel    context.CancelFunc
}

// init makes the maps and the sessions' context on first use, from the
// first caller's ctx without its cancellation: sessions outlive the ctx
// of one Serve call, and Shutdown ends them. s.mu is held.
func (s *Set) init(ctx context.Context) {
	if s.conns != nil {
		return
	}
	s.listeners = map[net.Listener]struct{}{}
	s.conns = map[net.Conn]func() bool{}
	s.perAddr = map[netip.Addr]int{}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
}

// Serve accepts connections on ln and serves each with handle in its own
// goroutine until ln fails or Shutdown is called; then it returns
// ErrClosed. Cancelling ctx stops accepting (and closes ln), like Shutdown
// without waiting for the sessions; they go on.
func (s *Set) Serve(ctx context.Context, ln net.Listener, handle Handler) error {
	s.mu.Lock()
	s.init(ctx)
	if s.closing {
		s.mu.Unlock()
		return ErrClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.Closing() || ctx.Err() != nil {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		if !s.track(c) {
			c.Close()
			return ErrClosed
		}
		go s.serve(c, handle)
	}
}

// ServeConn serves one already accepted connection with handle and
// returns when the session ends. After Shutdown it closes c at once.
func (s *Set) ServeConn(ctx context.Context, c net.Conn, handle Handler) {
	s.mu.Lock()
	s.init(ctx)
	s.mu.Unlock()
	if !s.track(c) {
		c.Close()
		return
	}
	s.serve(c, handle)
}

func (s *Set) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = nil
	s.wg.Add(1)
	return true
}

func (s *Set) serve(c net.Conn, handle Handler) {
	defer s.wg.Done()
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	handle(s.ctx, c)
}

// SetIdle gives the test of whether c's session waits for its client's
// next command: Shutdown wakes such a session by setting a read deadline
// in the past, so that it can say goodbye at once. The session must
// itself check Closing before it starts such a read. c must be a
// connection being served.
func (s *Set) SetIdle(c net.Conn, idle func() bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; ok {
		s.conns[c] = idle
	}
}

// Opened counts a connection from addr and returns how many are open now,
// this one included (Postfix's anvil connection count). When limit > 0
// and limit connections from addr are open already, it counts nothing and
// returns false (then the caller must not call Closed).
func (s *Set) Opened(addr netip.Addr, limit int) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perAddr == nil {
		s.perAddr = map[netip.Addr]int{}
	}
	if limit > 0 && s.perAddr[addr] >= limit {
		return s.perAddr[addr] + 1, false
	}
	s.perAddr[addr]++
	return s.perAddr[addr], true
}

// Closed uncounts a connection from addr counted by Opened.
func (s *Set) Closed(addr netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perAddr[addr]--; s.perAddr[addr] <= 0 {
		delete(s.perAddr, addr)
	}
}

// Closing reports whether Shutdown has been called.
func (s *Set) Closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Shutdown stops accepting (closing the listeners), wakes the idle
// sessions (see SetIdle) and waits for all sessions to end. When ctx is
// done first, it cancels the sessions' context, closes their connections,
// waits for the handlers to return and returns ctx.Err().
func (s *Set) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.init(ctx)
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	for c, idle := range s.conns {
		if idle != nil && idle() {
			c.SetReadDeadline(time.Now())
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.cancel()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	<-done
	return ctx.Err()
}
