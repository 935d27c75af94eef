package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Defaults for Server.
const (
	DefaultMaxConns    = 32
	DefaultIdleTimeout = time.Minute
)

// Server serves the control protocol on a listener for a Handler.
type Server struct {
	Access      Access       // what clients of this socket may do
	Log         *slog.Logger // operations and errors; may be nil
	MaxConns    int          // connections served at once; 0: DefaultMaxConns
	IdleTimeout time.Duration
}

// Serve accepts connections until ctx is done or the listener fails, and
// serves each in its own goroutine. It closes the listener and every open
// connection when ctx is done, and returns once they are all finished.
func (s *Server) Serve(ctx context.Context, ln net.Listener, h Handler) error {
	maxConns := s.MaxConns
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	sem := make(chan struct{}, maxConns)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("control: accept: %w", err)
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			c.Close()
			return nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s.serveConn(ctx, c, h)
		}()
	}
}

func (s *Server) idle() time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return DefaultIdleTimeout
}

// serveConn answers the requests of one connection, one line each, until
// the client closes it, stays idle too long, or sends a line too long.
func (s *Server) serveConn(ctx context.Context, c net.Conn, h Handler) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	r := bufio.NewReaderSize(c, MaxRequest)
	w := &replyWriter{c: c, bw: bufio.NewWriter(c), timeout: s.idle()}
	for {
		c.SetReadDeadline(time.Now().Add(s.idle()))
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			w.final(Reply{Error: fmt.Sprintf("request longer than %d bytes", MaxRequest)})
			return
		}
		if err != nil {
			if len(bytes.TrimSpace(line)) > 0 && err == io.EOF {
				s.handle(ctx, w, bytes.TrimSpace(line), h) // last line without newline
			}
			return
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if !s.handle(ctx, w, line, h) {
			return
		}
	}
}

// handle answers one request; it tells whether the connection is still
// good.
func (s *Server) handle(ctx context.Context, w *replyWriter, line []byte, h Handler) bool {
	req, err := ParseRequest(line)
	if err != nil {
		return w.final(Reply{Error: err.Error()})
	}
	if !s.Access.Allows(req.Op) {
		s.logWarn("refused", req, errors.New("not permitted on this socket"))
		return w.final(Reply{Error: fmt.Sprintf("%s is not permitted on this socket", req.Op)})
	}
	if req.Op != OpList && s.Log != nil {
		s.Log.Info("control request", "op", req.Op, "id", req.ID, "all", req.All, "queues", req.Queues, "site", req.Site)
	}
	var n int
	switch req.Op {
	case OpList:
		err = h.List(ctx, func(m Message) error {
			n++
			return w.item(Reply{Message: &m})
		})
	case OpFlush:
		err = h.Flush(ctx, req.Site)
	case OpPurge:
		n, err = h.Purge(ctx, func(path string) { w.item(Reply{Path: path}) })
	default:
		a := Action{Op: req.Op, ID: req.ID, All: req.All, Queues: req.Queues}
		n, err = h.Apply(ctx, a, func(id string) { w.item(Reply{ID: id}) })
	}
	if w.err != nil {
		return false
	}
	if err != nil {
		s.logWarn("failed", req, err)
		return w.final(Reply{Error: err.Error()})
	}
	return w.final(Reply{Done: true, Count: n})
}

func (s *Server) logWarn(what string, req Request, err error) {
	if s.Log != nil {
		s.Log.Warn("control request "+what, "op", req.Op, "id", req.ID, "err", err)
	}
}

// replyWriter writes reply lines, each within the idle timeout.
type replyWriter struct {
	c       net.Conn
	bw      *bufio.Writer
	timeout time.Duration
	err     error
}

func (w *replyWriter) item(r Reply) error {
	if w.err != nil {
		return w.err
	}
	b, err := json.Marshal(r)
	if err != nil {
		w.err = err
		return err
	}
	w.c.SetWriteDeadline(time.Now().Add(w.timeout))
	w.bw.Write(b)
	if err := w.bw.WriteByte('\n'); err != nil {
		w.err = err
	}
	return w.err
}

func (w *replyWriter) final(r Reply) bool {
	if w.item(r) != nil {
		return false
	}
	if err := w.bw.Flush(); err != nil {
		w.err = err
		return false
	}
	return true
}
