package pop3d

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// client is a raw POP3 connection for the tests that transcripts cannot
// express (several connections, timing, the server's side).
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	return dialFrom(t, addr, "")
}

// dialFrom connects from a given local address ("127.0.0.2": another
// client as far as per-client limits go).
func dialFrom(t testing.TB, addr, local string) *client {
	t.Helper()
	d := net.Dialer{}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(60 * time.Second)) // a safety net only
	t.Cleanup(func() { c.Close() })
	cl := &client{t: t, conn: c, r: bufio.NewReader(c)}
	cl.expect("+OK ")
	return cl
}

// do sends a command and returns the first line of the response.
func (c *client) do(cmd string) string {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(cmd + "\r\n")); err != nil {
		c.t.Fatalf("write %q: %v", cmd, err)
	}
	return c.line()
}

func (c *client) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return strings.TrimSuffix(l, "\r\n")
}

func (c *client) expect(prefix string) string {
	c.t.Helper()
	l := c.line()
	if !strings.HasPrefix(l, prefix) {
		c.t.Fatalf("got %q, want %q...", l, prefix)
	}
	return l
}

// closed asserts that the server closed the connection.
func (c *client) closed() {
	c.t.Helper()
	if l, err := c.r.ReadString('\n'); err == nil {
		c.t.Fatalf("connection open, read %q", l)
	}
}

func (c *client) login(user, pw string) string {
	c.t.Helper()
	if r := c.do("USER " + user); r != "+OK" {
		c.t.Fatalf("USER: %q", r)
	}
	return c.do("PASS " + pw)
}

func TestInUse(t *testing.T) {
	srv, st := newMemServer(t, testOptions(t))
	ts := startServer(t, srv)
	a := dial(t, ts.addr)
	if r := a.login("bob", bobPassword); r != "+OK Logged in." {
		t.Fatalf("first login: %q", r)
	}
	b := dial(t, ts.addr)
	if r := b.login("bob", bobPassword); r != "-ERR [IN-USE] Mailbox is locked by another POP3 session." {
		t.Fatalf("second login: %q", r)
	}
	// Another user's mailbox is not locked.
	if r := dial(t, ts.addr).login("alice", alicePassword); r != "+OK Logged in." {
		t.Fatalf("alice: %q", r)
	}
	// The refused session stays in AUTHORIZATION and may try again once
	// the first one is gone.
	a.do("DELE 1")
	if r := a.do("QUIT"); r != "+OK Logging out, messages deleted." {
		t.Fatalf("QUIT: %q", r)
	}
	a.closed()
	if r := b.login("bob", bobPassword); r != "+OK Logged in." {
		t.Fatalf("login after QUIT: %q", r)
	}
	if r := b.do("STAT"); r != "+OK 2 83" {
		t.Errorf("STAT after the first session's QUIT: %q", r)
	}
	if got := len(st.snapshot("/mail/bob")); got != 2 {
		t.Errorf("%d messages left", got)
	}
	if !strings.Contains(ts.log.String(), "Mailbox is locked by another POP3 session: user=<bob>") {
		t.Errorf("log:\n%s", ts.log)
	}
}

// A lost connection releases the lock too.
func TestLockReleasedOnLostConnection(t *testing.T) {
	srv, _ := newMemServer(t, testOptions(t))
	ts := startServer(t, srv)
	a := dial(t, ts.addr)
	a.login("bob", bobPassword)
	a.conn.Close()
	b := dial(t, ts.addr)
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := b.login("bob", bobPassword)
		if r == "+OK Logged in." {
			break
		}
		if r != "-ERR [IN-USE] Mailbox is locked by another POP3 session." || time.Now().After(deadline) {
			t.Fatalf("login: %q", r)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSnapshot(t *testing.T) {
	srv, st := newMemServer(t, testOptions(t))
	ts := startServer(t, srv)
	c := dial(t, ts.addr)
	c.login("bob", bobPassword)
	// A message arriving during the session is not seen by it.
	st.put("/mail/bob", memMessage{uid: 9, content: "Subject: new\r\n\r\nx\r\n"})
	if r := c.do("STAT"); r != "+OK 3 128" {
		t.Errorf("STAT: %q", r)
	}
	// A message another program removed during the session.
	st.mu.Lock()
	st.boxes["/mail/bob"] = st.boxes["/mail/bob"][1:]
	st.mu.Unlock()
	if r := c.do("RETR 1"); r != "-ERR Message 1 expunged." {
		t.Errorf("RETR of an expunged message: %q", r)
	}
	if r := c.do("DELE 2"); r != "+OK Marked to be deleted." {
		t.Errorf("DELE: %q", r)
	}
	if r := c.do("QUIT"); r != "+OK Logging out, messages deleted." {
		t.Errorf("QUIT: %q", r)
	}
	var uids []uint32
	for _, m := range st.snapshot("/mail/bob") {
		uids = append(uids, m.uid)
	}
	if len(uids) != 2 || uids[0] != 5 || uids[1] != 9 {
		t.Errorf("UIDs left: %v", uids)
	}
}

func TestQuitStorageError(t *testing.T) {
	srv, st := newMemServer(t, testOptions(t))
	ts := startServer(t, srv)
	c := dial(t, ts.addr)
	c.login("bob", bobPassword)
	c.do("DELE 1")
	st.mu.Lock()
	st.failUpdate = errors.New("disk on fire")
	st.mu.Unlock()
	if r := c.do("QUIT"); r != "-ERR [SYS/TEMP] Storage error during logout." {
		t.Errorf("QUIT: %q", r)
	}
	c.closed()
	if got := len(st.snapshot("/mail/bob")); got != 3 {
		t.Errorf("%d messages left", got)
	}
}

func TestTimeout(t *testing.T) {
	o := testOptions(t)
	o.Timeout = 100 * time.Millisecond
	srv, st := newMemServer(t, o)
	ts := startServer(t, srv)
	c := dial(t, ts.addr)
	c.login("bob", bobPassword)
	c.do("DELE 1")
	c.expect("-ERR Disconnected for inactivity.")
	c.closed()
	if got := len(st.snapshot("/mail/bob")); got != 3 {
		t.Errorf("%d messages left", got)
	}
	waitLog(t, ts, "Disconnected for inactivity top=0/0, retr=0/0, del=1/3")
}

func waitLog(t *testing.T, ts *testServer, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(ts.log.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("log lacks %q:\n%s", want, ts.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestShutdown(t *testing.T) {
	srv, st := newMemServer(t, testOptions(t))
	ts := startServer(t, srv)
	c := dial(t, ts.addr)
	c.login("bob", bobPassword)
	c.do("DELE 1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	c.expect("-ERR [SYS/TEMP] Server shutting down.")
	c.closed()
	if got := len(st.snapshot("/mail/bob")); got != 3 {
		t.Errorf("%d messages left", got)
	}
	if _, err := net.Dial("tcp", ts.addr); err == nil {
		t.Error("still accepting")
	}
}

func TestConnLimit(t *testing.T) {
	o := testOptions(t)
	o.ConnLimit = 1
	srv, _ := newMemServer(t, o)
	ts := startServer(t, srv)
	a := dial(t, ts.addr)
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	b := &client{t: t, conn: c, r: bufio.NewReader(c)}
	b.expect("-ERR [SYS/TEMP] Too many connections from your IP address.")
	b.closed()
	// Another address is not limited, and the first is still served.
	dialFrom(t, ts.addr, "127.0.0.2")
	if r := a.do("NOOP"); r != "-ERR Unknown command: NOOP (log in first)" {
		t.Errorf("NOOP: %q", r)
	}
}

func TestLongLine(t *testing.T) {
	o := testOptions(t)
	o.LineLimit = 512
	srv, _ := newMemServer(t, o)
	ts := startServer(t, srv)
	c := dial(t, ts.addr)
	if r := c.do("USER " + strings.Repeat("x", 600)); r != "-ERR Input line too long, aborting" {
		t.Errorf("long line: %q", r)
	}
	c.closed()
}

// TestBruteForce runs a real auth.Service with a failure limit: the
// client over it is cut off, another client still logs in.
func TestBruteForce(t *testing.T) {
	srv, _ := newMemServer(t, testOptions(t))
	srv.Auth = newAuth(t, map[string]string{"auth_failure_delay": "1", "auth_failure_limit": "2"})
	ts := startServer(t, srv)
	c := dial(t, ts.addr)
	for i := 0; i < 2; i++ {
		if r := c.login("bob", "guess"); r != replyAuthFailed {
			t.Fatalf("attempt %d: %q", i+1, r)
		}
	}
	if r := c.login("bob", bobPassword); r != "-ERR [SYS/TEMP] Too many authentication failures." {
		t.Fatalf("over the limit: %q", r)
	}
	c.closed()
	// The same address is refused even with the right password, in a new
	// connection and through AUTH too.
	d := dial(t, ts.addr)
	if r := d.do("AUTH PLAIN AGJvYgBib2Igc2VjcmV0"); r != "-ERR [SYS/TEMP] Too many authentication failures." {
		t.Fatalf("AUTH over the limit: %q", r)
	}
	other := dialFrom(t, ts.addr, "127.0.0.2")
	if r := other.login("bob", bobPassword); r != "+OK Logged in." {
		t.Fatalf("another client: %q", r)
	}
	waitLog(t, ts, "Disconnected (auth failed, 3 attempts in")
}
