package smtpd

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// client is a minimal line-based SMTP client for tests.
type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(60 * time.Second)) // safety net only
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, r: bufio.NewReader(c)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := c.c.Write([]byte(s + "\r\n")); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) expect(want string) {
	c.t.Helper()
	got, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("want %q: %v", want, err)
	}
	if got = strings.TrimSuffix(got, "\r\n"); got != want {
		c.t.Fatalf("got %q, want %q", got, want)
	}
}

func TestPanicIsolated(t *testing.T) {
	ts := startServer(t, testOptions())
	ts.pol.release = make(chan struct{})
	ts.pol.waiting = make(chan struct{})

	a := dial(t, ts.addr)
	a.expect("220 mx.example.test ESMTP mailhorn")
	a.send("HELO a.example")
	a.expect("250 mx.example.test")
	a.send("MAIL FROM:<a@a.example>")
	a.expect("250 2.1.0 Ok")
	a.send("RCPT TO:<wait@example.test>")
	<-ts.pol.waiting // session a is now inside the policy

	b := dial(t, ts.addr)
	b.expect("220 mx.example.test ESMTP mailhorn")
	b.send("MAIL FROM:<b@b.example>")
	b.expect("250 2.1.0 Ok")
	b.send("RCPT TO:<panic@example.test>")
	b.expect("421 4.3.0 mx.example.test Server local error")
	if _, err := b.r.ReadString('\n'); err == nil {
		t.Fatal("session b still open after its panic")
	}

	close(ts.pol.release)
	a.expect("250 2.1.5 Ok")
	a.send("DATA")
	a.expect("354 End data with <CR><LF>.<CR><LF>")
	a.send("hello\r\n.")
	a.expect("250 2.0.0 Ok: queued as QID1")
	a.send("QUIT")
	a.expect("221 2.0.0 Bye")
	ts.stop(t)
	if log := ts.log.String(); !strings.Contains(log, "internal error after RCPT: injected panic") {
		t.Errorf("panic not in the mail log:\n%s", log)
	}
}

func TestConnectionLimit(t *testing.T) {
	opt := testOptions()
	opt.ConnLimit = 1
	ts := startServer(t, opt)
	a := dial(t, ts.addr)
	a.expect("220 mx.example.test ESMTP mailhorn")
	b := dial(t, ts.addr)
	b.expect("421 4.7.0 mx.example.test Error: too many connections from 127.0.0.1")
	a.send("NOOP")
	a.expect("250 2.0.0 Ok")
	ts.stop(t)
	if log := ts.log.String(); !strings.Contains(log, "warning: Connection concurrency limit exceeded: 2 from unknown[127.0.0.1] for service smtp") {
		t.Errorf("log:\n%s", log)
	}
}

func TestConnectionLimitExempt(t *testing.T) {
	opt := testOptions()
	opt.ConnLimit = 1
	opt.ConnLimitExempt = func(a netip.Addr) bool { return a.IsLoopback() }
	ts := startServer(t, opt)
	a := dial(t, ts.addr)
	a.expect("220 mx.example.test ESMTP mailhorn")
	b := dial(t, ts.addr)
	b.expect("220 mx.example.test ESMTP mailhorn")
}

func TestShutdownWakesIdleSessions(t *testing.T) {
	ts := startServer(t, testOptions())
	a := dial(t, ts.addr)
	a.expect("220 mx.example.test ESMTP mailhorn")
	a.send("NOOP")
	a.expect("250 2.0.0 Ok")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	a.expect("421 4.3.2 mx.example.test Service shutting down")
	if _, err := net.Dial("tcp", ts.addr); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

func TestTimeout(t *testing.T) {
	opt := testOptions()
	opt.Timeout = time.Millisecond
	ts := startServer(t, opt)
	a := dial(t, ts.addr)
	a.expect("220 mx.example.test ESMTP mailhorn")
	// No command: the server gives up on its own.
	a.expect("421 4.4.2 mx.example.test Error: timeout exceeded")
	ts.stop(t)
	if log := ts.log.String(); !strings.Contains(log, "timeout after CONNECT from unknown[127.0.0.1]") {
		t.Errorf("log:\n%s", log)
	}
}
