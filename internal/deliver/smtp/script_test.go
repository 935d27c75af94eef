package smtp

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"mailhorn/internal/deliver"
)

// scriptConn is one connection to a scripted test server: a hand-written
// peer for behaviour our smtpd does not have (AUTH) or cannot show
// (pipelining, 5xx greetings).
type scriptConn struct {
	c net.Conn
	r *bufio.Reader
}

func (c *scriptConn) line() string {
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, _ := c.r.ReadString('\n')
	return strings.TrimRight(l, "\r\n")
}

func (c *scriptConn) say(lines ...string) {
	c.c.Write([]byte(strings.Join(lines, "\r\n") + "\r\n"))
}

// readData reads message content up to the final ".".
func (c *scriptConn) readData() []string {
	var out []string
	for {
		l := c.line()
		if l == "." {
			return out
		}
		out = append(out, l)
		if len(out) > 1000 {
			return out
		}
	}
}

func (c *scriptConn) starttls(cert tls.Certificate) {
	tc := tls.Server(c.c, &tls.Config{Certificates: []tls.Certificate{cert}})
	c.c, c.r = tc, bufio.NewReader(tc)
}

// serveScript runs fn for each connection on a new loopback listener and
// returns its port.
func serveScript(t *testing.T, ip string, fn func(c *scriptConn)) string {
	t.Helper()
	ln := listenAt(t, ip, "0")
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				fn(&scriptConn{c: c, r: bufio.NewReader(c)})
			}()
		}
	}()
	return portOf(ln)
}

// TestPipelining: the server answers nothing until it has MAIL, both
// RCPTs and DATA; a client that waited for each reply would time out.
func TestPipelining(t *testing.T) {
	var mu sync.Mutex
	var got []string
	port := serveScript(t, "127.0.0.1", func(c *scriptConn) {
		c.say("220 pipe.test ESMTP")
		c.line()
		c.say("250-pipe.test", "250 PIPELINING")
		for range 4 {
			l := c.line()
			mu.Lock()
			got = append(got, l)
			mu.Unlock()
		}
		c.say("250 2.1.0 Ok", "250 2.1.5 Ok", "550 5.1.1 <b@d.test>: no such user", "354 go ahead")
		c.readData()
		c.say("250 2.0.0 Ok: queued as PIPE1")
		c.line()
		c.say("221 2.0.0 Bye")
	})
	o := testOptions(port)
	o.Timeouts.Mail, o.Timeouts.Rcpt = 2*time.Second, 2*time.Second
	res := New(o, nil, nil).Deliver(context.Background(), request(t, "[127.0.0.1]", "s@sender.test", message, "a@d.test", "b@d.test"))
	check(t, res,
		want{deliver.Sent, "2.0.0", "250 2.0.0 Ok: queued as PIPE1", ""},
		want{deliver.Bounced, "5.1.1", "host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <b@d.test>: no such user (in reply to RCPT TO command)", ""})
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"MAIL FROM:<s@sender.test>", "RCPT TO:<a@d.test>", "RCPT TO:<b@d.test>", "DATA"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("pipelined commands %q, want %q", got, want)
	}
}

// TestGreeting: a 4xx or 5xx greeting moves on to the next address
// (smtp_skip_5xx_greeting); with the option off a 5xx greeting bounces.
func TestGreeting(t *testing.T) {
	port := freePort(t)
	for _, tc := range []struct {
		greeting string
		skip     bool
		want     want
	}{
		{"421 4.3.2 busy", true, want{deliver.Deferred, "4.3.2", "host 127.0.0.1[127.0.0.1] refused to talk to me: 421 4.3.2 busy", "smtp; 421 4.3.2 busy"}},
		{"554 5.7.1 go away", true, want{deliver.Deferred, "4.7.1", "refused to talk to me: 554 5.7.1 go away", ""}},
		{"554 5.7.1 go away", false, want{deliver.Bounced, "5.7.1", "refused to talk to me: 554 5.7.1 go away", ""}},
	} {
		ln := listenAt(t, "127.0.0.1", port)
		go func() {
			c, err := ln.Accept()
			if err == nil {
				c.Write([]byte(tc.greeting + "\r\n"))
				c.Close()
			}
		}()
		o := testOptions(port)
		o.Skip5xxGreeting = tc.skip
		check(t, New(o, nil, nil).Deliver(context.Background(), request(t, "[127.0.0.1]", "", message, "a@d.test")), tc.want)
		ln.Close()
	}
}

// passwords is a maps.Table for smtp_sasl_password_maps.
type passwords map[string]string

func (p passwords) Lookup(_ context.Context, k string) (string, bool, error) {
	v, ok := p[k]
	return v, ok, nil
}

func (passwords) Close() error { return nil }

// TestAUTH relays through a server that wants STARTTLS, then AUTH PLAIN
// (or LOGIN) before MAIL, as a provider's submission port does.
func TestAUTH(t *testing.T) {
	pool, cert := testCA(t, "relay.test")
	var mu sync.Mutex
	var users []string
	port := serveScript(t, "127.0.0.1", func(c *scriptConn) {
		c.say("220 relay.test ESMTP")
		c.line()
		c.say("250-relay.test", "250 STARTTLS")
		if c.line() != "STARTTLS" {
			return
		}
		c.say("220 2.0.0 Ready to start TLS")
		c.starttls(cert)
		c.line()
		mechs := "PLAIN LOGIN"
		c.say("250-relay.test", "250-PIPELINING", "250 AUTH "+mechs)
		cmd := c.line()
		var user, pass string
		switch {
		case strings.HasPrefix(cmd, "AUTH PLAIN "):
			b, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(cmd, "AUTH PLAIN "))
			p := strings.Split(string(b), "\x00")
			if len(p) == 3 {
				user, pass = p[1], p[2]
			}
		default:
			c.say("530 5.7.0 Authentication required")
			return
		}
		if pass != "secret" {
			c.say("535 5.7.8 Error: authentication failed")
			return
		}
		mu.Lock()
		users = append(users, user)
		mu.Unlock()
		c.say("235 2.7.0 Authentication successful")
		c.line()
		c.line()
		c.line()
		c.say("250 2.1.0 Ok", "250 2.1.5 Ok", "354 go")
		c.readData()
		c.say("250 2.0.0 Ok: queued as AUTH1")
		c.line()
		c.say("221 Bye")
	})
	nexthop := "[127.0.0.1]:" + port
	for _, tc := range []struct {
		name   string
		table  passwords
		sender string
		dep    bool
		want   want
		user   string
	}{
		{"by next hop", passwords{strings.ToLower(nexthop): "alice:secret"}, "s@sender.test", false, want{deliver.Sent, "2.0.0", "queued as AUTH1", ""}, "alice"},
		{"wrong password", passwords{nexthop: "alice:wrong"}, "s@sender.test", false,
			want{deliver.Deferred, "4.7.0", "SASL authentication failed; server 127.0.0.1[127.0.0.1] said: 535 5.7.8 Error: authentication failed", ""}, ""},
		{"sender dependent", passwords{nexthop: "alice:secret", "bob@sender.test": "bob:secret"}, "bob@sender.test", true,
			want{deliver.Sent, "2.0.0", "queued as AUTH1", ""}, "bob"},
		{"sender dependent, by domain", passwords{nexthop: "alice:secret", "@sender.test": "carol:secret"}, "dave@sender.test", true,
			want{deliver.Sent, "2.0.0", "queued as AUTH1", ""}, "carol"},
		{"no password: the server refuses MAIL", passwords{}, "s@sender.test", false,
			want{deliver.Bounced, "5.7.0", "said: 530 5.7.0 Authentication required (in reply to MAIL FROM command)", ""}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			users = nil
			mu.Unlock()
			o := testOptions("25")
			o.TLSLevel, o.RootCAs = TLSEncrypt, pool
			o.SASL, o.Passwords, o.SenderDependent = true, tc.table, tc.dep
			check(t, New(o, nil, nil).Deliver(context.Background(), request(t, nexthop, tc.sender, message, "a@d.test")), tc.want)
			mu.Lock()
			defer mu.Unlock()
			if tc.user != "" && (len(users) != 1 || users[0] != tc.user) {
				t.Errorf("authenticated as %q, want %q", users, tc.user)
			}
		})
	}
}

// TestAUTHNeedsTLS: PLAIN is never sent over a plaintext connection.
func TestAUTHNeedsTLS(t *testing.T) {
	port := serveScript(t, "127.0.0.1", func(c *scriptConn) {
		c.say("220 relay.test ESMTP")
		c.line()
		c.say("250-relay.test", "250 AUTH PLAIN")
		if l := c.line(); strings.HasPrefix(l, "AUTH") {
			t.Errorf("client sent %q in plaintext", l)
		}
	})
	o := testOptions(port)
	o.SASL, o.Passwords = true, passwords{"[127.0.0.1]": "alice:secret"}
	check(t, New(o, nil, nil).Deliver(context.Background(), request(t, "[127.0.0.1]", "", message, "a@d.test")),
		want{deliver.Deferred, "4.7.0", "the connection is not encrypted", ""})
}
