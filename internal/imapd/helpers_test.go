package imapd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"mailhorn/internal/auth"
	"mailhorn/internal/maillog"
	"mailhorn/internal/store"
)

// fakeAuth is an Authenticator with fixed users; after limit failures
// from one address it answers ErrTooManyFailures, as the auth service's
// per-client limit does.
type fakeAuth struct {
	mu       sync.Mutex
	users    map[string]string
	fails    map[netip.Addr]int
	limit    int
	tempFail bool
}

func newFakeAuth() *fakeAuth {
	return &fakeAuth{users: map[string]string{"alice@example.test": "secret", "bob@example.test": "hunter2"}, fails: map[netip.Addr]int{}, limit: 10}
}

func (a *fakeAuth) Mechanisms(bool) []string { return []string{"PLAIN"} }

func (a *fakeAuth) Verify(ctx context.Context, user, pw string, client netip.Addr) (*auth.User, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tempFail {
		return nil, auth.ErrTemporary
	}
	if a.fails[client] >= a.limit {
		return nil, auth.ErrTooManyFailures
	}
	if p, ok := a.users[user]; ok && p == pw {
		return &auth.User{Name: user, UID: -1, GID: -1}, nil
	}
	a.fails[client]++
	return nil, auth.ErrFailed
}

func (a *fakeAuth) Start(ctx context.Context, mech string, client netip.Addr, tls bool) (auth.Exchange, error) {
	if mech != "PLAIN" {
		return nil, auth.ErrMechanism
	}
	return &plainX{a: a, client: client}, nil
}

type plainX struct {
	a      *fakeAuth
	client netip.Addr
	name   string
	user   *auth.User
}

func (x *plainX) Next(ctx context.Context, resp []byte) ([]byte, bool, error) {
	if resp == nil {
		return nil, false, nil
	}
	f := bytes.Split(resp, []byte{0})
	if len(f) != 3 {
		return nil, false, auth.ErrMalformed
	}
	x.name = string(f[1])
	u, err := x.a.Verify(ctx, x.name, string(f[2]), x.client)
	if err != nil {
		return nil, false, err
	}
	x.user = u
	return nil, true, nil
}
func (x *plainX) Mechanism() string { return "PLAIN" }
func (x *plainX) Username() string  { return x.name }
func (x *plainX) User() *auth.User  { return x.user }

// testServer is a running server on loopback with the real store.
type testServer struct {
	srv   *Server
	addr  string
	dir   string
	store *store.Store
	log   *bytes.Buffer
	logMu *sync.Mutex
	auth  *fakeAuth
}

type lockedBuf struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (ts *testServer) logText() string {
	ts.logMu.Lock()
	defer ts.logMu.Unlock()
	return ts.log.String()
}

func startServer(t testing.TB, tweak func(*Options)) *testServer {
	t.Helper()
	return startServerStore(t, store.Options{}, tweak)
}

// startServerStore is startServer with the store's options.
func startServerStore(t testing.TB, so store.Options, tweak func(*Options)) *testServer {
	t.Helper()
	dir := t.TempDir()
	st := store.New(so)
	t.Cleanup(func() { st.Close() })
	ts := &testServer{dir: dir, store: st, log: &bytes.Buffer{}, logMu: &sync.Mutex{}, auth: newFakeAuth()}
	opts := DefaultOptions()
	opts.TLSAuthOnly = false
	opts.Hostname = "mail.example.test"
	opts.IdleSync = 200 * time.Millisecond
	if tweak != nil {
		tweak(&opts)
	}
	ts.srv = &Server{
		Opts:  opts,
		Auth:  ts.auth,
		Store: st,
		Users: func(ctx context.Context, u *auth.User) (string, store.Quota, error) {
			return ts.userRoot(u.Name), store.Quota{Messages: 100, Bytes: 10 << 20}, nil
		},
		MailLog: maillog.New(lockedBuf{ts.logMu, ts.log}, "mailhorn", "mail").Service("imapd"),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		ts.srv.Serve(context.Background(), ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ts.srv.Shutdown(ctx)
		<-done
	})
	return ts
}

// userRoot is where a user's mail tree is.
func (ts *testServer) userRoot(name string) string {
	return filepath.Join(ts.dir, name, "Maildir")
}

// client is a raw IMAP client for transcripts.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func (ts *testServer) dial(t testing.TB) *client {
	t.Helper()
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &client{t: t, conn: conn, r: bufio.NewReader(conn)}
	if g := c.line(); !strings.HasPrefix(g, "* OK [CAPABILITY ") {
		t.Fatalf("greeting %q", g)
	}
	return c
}

func (c *client) line() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("reading: %v (got %q)", err, l)
	}
	l = strings.TrimSuffix(l, "\r\n")
	// A literal: read it and join it to the line.
	if m := litRE.FindStringSubmatch(l); m != nil {
		n := atoiT(m[1])
		buf := make([]byte, n)
		if _, err := ioReadFull(c.r, buf); err != nil {
			c.t.Fatal(err)
		}
		return l + "\r\n" + string(buf) + c.line()
	}
	return l
}

var litRE = regexp.MustCompile(`\{(\d+)\}$`)

func atoiT(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(s + "\r\n")); err != nil {
		c.t.Fatal(err)
	}
}

// do sends a tagged command and returns every line up to its tagged
// response (the last).
func (c *client) do(cmd string) []string {
	c.t.Helper()
	tag, _, _ := strings.Cut(cmd, " ")
	c.send(cmd)
	return c.until(tag)
}

func (c *client) until(tag string) []string {
	c.t.Helper()
	var out []string
	for {
		l := c.line()
		out = append(out, l)
		if strings.HasPrefix(l, tag+" ") {
			return out
		}
	}
}

// expect checks that lines match the patterns in order (each pattern a
// regexp matched against a whole line; lines between are allowed).
func expect(t testing.TB, lines []string, patterns ...string) {
	t.Helper()
	i := 0
	for _, p := range patterns {
		re := regexp.MustCompile("^(?s:" + p + ")$")
		for ; i < len(lines); i++ {
			if re.MatchString(lines[i]) {
				break
			}
		}
		if i == len(lines) {
			t.Fatalf("no line matches %q in:\n%s", p, strings.Join(lines, "\n"))
		}
		i++
	}
}

// refuse checks that no line matches the pattern.
func refuse(t testing.TB, lines []string, pattern string) {
	t.Helper()
	re := regexp.MustCompile("^(?s:" + pattern + ")$")
	for _, l := range lines {
		if re.MatchString(l) {
			t.Fatalf("line %q should not be there:\n%s", l, strings.Join(lines, "\n"))
		}
	}
}

func (ts *testServer) login(t testing.TB) *client {
	c := ts.dial(t)
	expect(t, c.do("l1 LOGIN alice@example.test secret"), `l1 OK \[CAPABILITY .*\] Logged in`)
	return c
}

// appendMsg APPENDs a message over the session.
func (c *client) appendMsg(mbox, flags, msg string) []string {
	c.t.Helper()
	msg = strings.ReplaceAll(msg, "\n", "\r\n")
	if flags != "" {
		flags += " "
	}
	c.send("ap APPEND " + mbox + " " + flags + "{" + itoa(uint64(len(msg))) + "+}")
	c.conn.Write([]byte(msg + "\r\n"))
	return c.until("ap")
}

func ioReadFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// selfSigned makes a TLS server config for tests.
func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mail.example.test"},
		DNSNames:     []string{"mail.example.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

var errTest = errors.New("test")

const msg1 = `From: Alice <alice@example.test>
To: Bob <bob@example.test>
Cc: carol@example.test
Subject: Re: [list] Lunch plans
Date: Mon, 7 Feb 1994 21:52:25 -0800
Message-ID: <1@example.test>

Shall we meet at noon for lunch?
`

const msg2 = `From: Zed <zed@example.test>
To: alice@example.test
Subject: Quarterly report
Date: Tue, 8 Feb 1994 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

See the attached numbers. Grüße.
--b1
Content-Type: application/octet-stream; name="r.bin"
Content-Transfer-Encoding: base64

AAECAwQ=
--b1--
`

const msg3 = `From: bob@example.test
To: alice@example.test
Subject: apples
Date: Wed, 9 Feb 1994 08:00:00 +0000

An apple a day keeps the doctor away; a much longer body than the others,
so that LARGER and SMALLER can tell it apart from them, padded padded padded.
`

func newReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

func dialRaw(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }
