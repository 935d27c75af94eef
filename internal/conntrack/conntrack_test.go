package conntrack

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

func TestOpened(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	b := netip.MustParseAddr("2001:db8::1")
	type step struct {
		close  bool
		addr   netip.Addr
		limit  int
		wantN  int
		wantOK bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"counts per address", []step{
			{addr: a, wantN: 1, wantOK: true},
			{addr: a, wantN: 2, wantOK: true},
			{addr: b, wantN: 1, wantOK: true},
			{close: true, addr: a},
			{addr: a, wantN: 2, wantOK: true},
		}},
		{"no limit counts past any number", []step{
			{addr: a, wantN: 1, wantOK: true},
			{addr: a, wantN: 2, wantOK: true},
			{addr: a, wantN: 3, wantOK: true},
		}},
		{"limit refuses without counting", []step{
			{addr: a, limit: 2, wantN: 1, wantOK: true},
			{addr: a, limit: 2, wantN: 2, wantOK: true},
			{addr: a, limit: 2, wantN: 3, wantOK: false},
			{addr: a, limit: 2, wantN: 3, wantOK: false},
			{addr: b, limit: 2, wantN: 1, wantOK: true},
			{close: true, addr: a},
			{addr: a, limit: 2, wantN: 2, wantOK: true},
		}},
		{"closed to zero starts again", []step{
			{addr: a, wantN: 1, wantOK: true},
			{close: true, addr: a},
			{close: true, addr: a},
			{addr: a, wantN: 1, wantOK: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s Set
			for i, st := range tc.steps {
				if st.close {
					s.Closed(st.addr)
					continue
				}
				n, ok := s.Opened(st.addr, st.limit)
				if n != st.wantN || ok != st.wantOK {
					t.Fatalf("step %d: Opened(%s, %d) = %d, %v; want %d, %v", i, st.addr, st.limit, n, ok, st.wantN, st.wantOK)
				}
			}
		})
	}
}

// echo is a handler that answers each line with the same line until EOF.
func echo(_ context.Context, c net.Conn) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		io.WriteString(c, line)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func dial(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func roundTrip(t *testing.T, c net.Conn, line string) {
	t.Helper()
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != line+"\n" {
		t.Fatalf("read %q, %v; want %q", got, err, line)
	}
}

func TestServeAccepts(t *testing.T) {
	var s Set
	ln := listen(t)
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background(), ln, echo) }()
	c1, c2 := dial(t, ln), dial(t, ln)
	roundTrip(t, c1, "one")
	roundTrip(t, c2, "two")
	c1.Close()
	c2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve returned %v, want ErrClosed", err)
	}
	if err := s.Serve(context.Background(), listen(t), echo); !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve after Shutdown: %v, want ErrClosed", err)
	}
}

// Cancelling Serve's ctx stops accepting but not the sessions: they run
// on the Set's own context.
func TestServeCancel(t *testing.T) {
	var s Set
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	sessionCtx := make(chan context.Context, 1)
	go func() {
		served <- s.Serve(ctx, ln, func(ctx context.Context, c net.Conn) {
			sessionCtx <- ctx
			echo(ctx, c)
		})
	}()
	c := dial(t, ln)
	roundTrip(t, c, "before")
	cancel()
	if err := <-served; !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve returned %v, want ErrClosed", err)
	}
	if err := (<-sessionCtx).Err(); err != nil {
		t.Fatalf("session context: %v", err)
	}
	roundTrip(t, c, "after")
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Fatal("listener still accepts")
	}
	c.Close()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestShutdown(t *testing.T) {
	for _, tc := range []struct {
		name     string
		idle     bool          // the session says it waits for a command
		finishes time.Duration // a busy session ends on its own after this; 0: never
		deadline time.Duration
		wantErr  error
		wantSaid string // what the client reads
		wantCtx  bool   // the session's ctx is cancelled
	}{
		{name: "idle session is woken and says goodbye", idle: true, deadline: 10 * time.Second, wantSaid: "bye\n"},
		{name: "busy session finishes before the deadline", finishes: 50 * time.Millisecond, deadline: 10 * time.Second, wantSaid: "done\n"},
		{name: "busy session is closed at the deadline", deadline: 100 * time.Millisecond, wantErr: context.DeadlineExceeded, wantCtx: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s Set
			ln := listen(t)
			started := make(chan struct{})
			ended := make(chan context.Context, 1)
			go s.Serve(context.Background(), ln, func(ctx context.Context, c net.Conn) {
				defer func() { ended <- ctx }()
				var idle atomic.Bool
				s.SetIdle(c, idle.Load)
				if !tc.idle {
					close(started)
					if tc.finishes > 0 {
						time.Sleep(tc.finishes)
						io.WriteString(c, "done\n")
						return
					}
					c.Read(make([]byte, 1)) // busy until closed
					return
				}
				idle.Store(true)
				if s.Closing() {
					io.WriteString(c, "bye\n")
					return
				}
				close(started)
				_, err := c.Read(make([]byte, 1))
				if s.Closing() && errors.Is(err, os.ErrDeadlineExceeded) {
					c.SetWriteDeadline(time.Now().Add(5 * time.Second))
					io.WriteString(c, "bye\n")
				}
			})
			c := dial(t, ln)
			<-started
			ctx, cancel := context.WithTimeout(context.Background(), tc.deadline)
			defer cancel()
			start := time.Now()
			if err := s.Shutdown(ctx); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Shutdown: %v, want %v", err, tc.wantErr)
			}
			if tc.idle && time.Since(start) > 5*time.Second {
				t.Errorf("idle session woken after %v", time.Since(start))
			}
			if sctx := <-ended; (sctx.Err() != nil) != tc.wantCtx {
				t.Errorf("session ctx err = %v, want cancelled %v", sctx.Err(), tc.wantCtx)
			}
			said, err := io.ReadAll(c)
			if string(said) != tc.wantSaid {
				t.Errorf("client read %q (%v), want %q", said, err, tc.wantSaid)
			}
		})
	}
}

func TestServeConnAfterShutdown(t *testing.T) {
	var s Set
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	server, client := net.Pipe()
	defer client.Close()
	called := false
	s.ServeConn(context.Background(), server, func(context.Context, net.Conn) { called = true })
	if called {
		t.Fatal("handler called after Shutdown")
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read: %v, want EOF (connection closed)", err)
	}
}

func TestServeConn(t *testing.T) {
	var s Set
	server, client := net.Pipe()
	defer client.Close()
	done := make(chan struct{})
	go func() {
		s.ServeConn(context.Background(), server, echo)
		close(done)
	}()
	client.SetDeadline(time.Now().Add(10 * time.Second))
	roundTrip(t, client, "hello")
	client.Close()
	<-done
	// The connection is closed and forgotten: Shutdown has nothing to wait for.
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
