package e2e

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// No open relay (issue 6, "How it is checked"): from a client outside
// mynetworks (127.0.0.9; mynetworks is 127.0.0.1/32) every trick for
// getting a foreign recipient accepted is refused, as Postfix with the same
// main.cf refuses it, nothing is queued and nothing reaches the relay host
// (a listener of the test's own). The same recipients from a user who
// logged in (AUTH PLAIN after STARTTLS, on the submission port) are
// relayed, except the syntactically invalid ones, which both servers
// refuse.

// relayTricks are the recipients of the open relay suite: every one is a
// foreign destination in disguise (or plainly).
var relayTricks = []string{
	"someone@remote.example",
	"SomeOne@REMOTE.EXAMPLE",
	"user%remote.example@example.test",
	"USER%REMOTE.EXAMPLE@EXAMPLE.TEST",
	"user%remote.example@relay.test",
	"user%remote.example",
	"@example.test:user@remote.example",
	"@EXAMPLE.TEST,@example.test:user@remote.example",
	`"user@remote.example"@example.test`,
	`"user@remote.example"@relay.test`,
	"user@remote.example@example.test",
	"remote.example!user@example.test",
	"remote.example!user@relay.test",
	"remote.example!user",
	"user@remote.example.",
	"user@remote.example..",
	"user@[127.0.0.2]",
	"user@127.0.0.2",
	"user@[IPv6:::1]",
	"nosuchuser@[127.0.0.1]",
	"user@remote.example\r@example.test",
	"user@remote.example\n@example.test",
	"user@remote.example\r\nRCPT TO:<user@remote.example>",
}

// relayDeliberate are the recipients mailhorn refuses otherwise than
// Postfix on purpose, with the reply mailhorn gives (from anyone) and why.
var relayDeliberate = map[string]struct {
	code int
	why  string
}{
	"user@remote.example@example.test":   {501, "an unquoted @ in a local part is not RFC 5321 syntax: mailhorn says 501 5.1.3 where Postfix parses it leniently and then refuses it as relaying (554) or as an unknown user (550)"},
	"user@remote.example\r@example.test": {501, "the same after the CR (which both drop from the RCPT line)"},
}

// relayCF is the main.cf block both servers share.
const relayCF = `
myhostname = mail.example.test
mydomain = example.test
myorigin = $mydomain
smtpd_banner = $myhostname ESMTP
mynetworks = 127.0.0.1/32
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
relay_domains = relay.test
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
`

// relaySession is one try: the recipient between <> in RCPT TO.
func relaySession(name, rcpt string, login []string) diffSession {
	cmds := append([]string{"EHLO client.example.net"}, login...)
	cmds = append(cmds, "MAIL FROM:<carol@example.net>", "RCPT TO:<"+rcpt+">", "DATA", "QUIT")
	return diffSession{name: name, client: outside, cmds: cmds}
}

func TestOpenRelay(t *testing.T) {
	needRoot(t) // Postfix, the reference
	sink := startRecordingSink(t)

	// mailhorn: everything not local goes to the sink.
	s := newSystem(t, options{})
	tlsConf := s.enableAuth(map[string]string{"alice@" + domain: "alice-demo-password"},
		relayCF+"relayhost = "+sink.nexthop()+"\n")
	sub := freePort(t)
	s.addService(fmt.Sprintf(`127.0.0.1:%d inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
`, sub))
	s.start()
	waitListening(t, "127.0.0.1:"+strconv.Itoa(sub), nil)

	// Postfix with the same main.cf; its logins go to a private Dovecot.
	sock := startDovecotAuth(t, "alice@"+domain, "alice-demo-password")
	ca := newTestCA(t)
	cert, key := ca.issue("mail." + domain)
	p := newPostfix(t, "openrelay")
	pfPlain, pfSub := freePort(t), freePort(t)
	p.start(pfConfig{
		myhostname: "mail." + domain,
		mainCF: fmt.Sprintf(relayCF+`virtual_mailbox_domains = example.test
virtual_mailbox_maps = hash:%s/vmailbox
virtual_transport = discard
relay_transport = discard
default_transport = discard
`, p.conf),
		transports: "tlsmgr unix - - n 1000? 1 tlsmgr\n",
		listeners: []pfListener{{port: pfPlain}, tlsListener(pfSub, cert, key,
			"smtpd_tls_security_level=encrypt",
			"smtpd_sasl_auth_enable=yes",
			"smtpd_sasl_type=dovecot",
			"smtpd_sasl_path="+sock,
			"smtpd_tls_auth_only=yes",
		)},
		maps: map[string]string{"vmailbox": "alice@example.test alice/\nbob@example.test bob/\n"},
	})
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	pfTLS := &tls.Config{RootCAs: roots, ServerName: "mail." + domain}

	login := []string{"STARTTLS", "EHLO client.example.net", authPlain("alice@"+domain, "alice-demo-password")}
	type outcome struct {
		sess   diffSession
		pf, mh []step
	}
	var anon, authed []outcome
	for i, rcpt := range relayTricks {
		sess := relaySession(fmt.Sprintf("anon-%02d", i), rcpt, nil)
		anon = append(anon, outcome{sess,
			playSession(t, sess, "127.0.0.1:"+strconv.Itoa(pfPlain), nil),
			playSession(t, sess, s.addr(), nil)})
	}
	for i, rcpt := range relayTricks {
		sess := relaySession(fmt.Sprintf("auth-%02d", i), rcpt, login)
		authed = append(authed, outcome{sess,
			playSession(t, sess, "127.0.0.1:"+strconv.Itoa(pfSub), pfTLS),
			playSession(t, sess, "127.0.0.1:"+strconv.Itoa(sub), tlsConf)})
	}

	// rcptReply is the reply to the RCPT TO command (the first one, for
	// the recipient with CR LF in it).
	rcptReply := func(steps []step) step {
		for _, st := range steps {
			if strings.HasPrefix(st.cmd, "RCPT TO:") {
				return st
			}
		}
		return step{}
	}
	report := func(o outcome) string {
		return fmt.Sprintf("%q\nPostfix:%s\nmailhorn:%s", o.sess.cmds, transcript(o.pf), transcript(o.mh))
	}
	// deliberate tells whether mailhorn's reply is a listed deliberate
	// difference (and then checks it is the listed refusal).
	deliberate := func(o outcome, mh step) bool {
		var rcpt string
		for _, c := range o.sess.cmds {
			if r, found := strings.CutPrefix(c, "RCPT TO:<"); found {
				rcpt = strings.TrimSuffix(r, ">")
			}
		}
		d, ok := relayDeliberate[rcpt]
		if ok && mh.code != d.code {
			t.Errorf("%s: mailhorn should answer %d (%s): %s", o.sess.name, d.code, d.why, report(o))
		}
		return ok
	}
	for _, o := range anon {
		mh, pf := rcptReply(o.mh), rcptReply(o.pf)
		if mh.code < 400 {
			t.Errorf("%s: OPEN RELAY: mailhorn accepted %s", o.sess.name, report(o))
		} else if deliberate(o, mh) {
		} else if mh.code != pf.code || enhanced.FindString(mh.text) != enhanced.FindString(pf.text) {
			t.Errorf("%s: mailhorn refuses otherwise than Postfix: %s", o.sess.name, report(o))
		}
	}
	accepted := 0
	for _, o := range authed {
		mh, pf := rcptReply(o.mh), rcptReply(o.pf)
		if deliberate(o, mh) {
		} else if mh.code != pf.code || enhanced.FindString(mh.text) != enhanced.FindString(pf.text) {
			t.Errorf("%s: logged in, mailhorn answers otherwise than Postfix: %s", o.sess.name, report(o))
		}
		if mh.code == 250 {
			accepted++
		}
	}
	if accepted == 0 {
		t.Fatalf("nothing relayed for the logged-in user")
	}

	// What the logged-in user sent reaches the sink; what the outside
	// client tried never does. The queue empties.
	s.settled("the queue empty", func() bool { return len(s.queued()) == 0 },
		func() string { return fmt.Sprintf("queue: %q", s.queued()) })
	got := sink.messages()
	if len(got) != accepted {
		t.Errorf("the sink got %d messages, want %d (one per recipient accepted for the logged-in user):\n%s", len(got), accepted, strings.Join(got, "\n---\n"))
	}
	for _, m := range got {
		if strings.Contains(m, "Subject: anon-") {
			t.Errorf("OPEN RELAY: a message of the outside client reached the relay host:\n%s", m)
		}
	}
	if n := len(s.messages()); n != 0 {
		t.Errorf("%d messages delivered locally, want none", n)
	}
	s.stop()
}

// recordingSink is the relay host of TestOpenRelay: an SMTP server that
// accepts everything and keeps the envelope and text of each message.
type recordingSink struct {
	addr string
	mu   sync.Mutex
	msgs []string
}

func startRecordingSink(t *testing.T) *recordingSink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k := &recordingSink{addr: l.Addr().String()}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go k.serve(c)
		}
	}()
	return k
}

// nexthop is the sink as a relayhost value.
func (k *recordingSink) nexthop() string {
	host, port, _ := net.SplitHostPort(k.addr)
	return "[" + host + "]:" + port
}

func (k *recordingSink) messages() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.msgs...)
}

// serve speaks just enough SMTP for a client that sends mail.
func (k *recordingSink) serve(c net.Conn) {
	defer c.Close()
	r := textproto.NewReader(bufio.NewReader(c))
	w := bufio.NewWriter(c)
	say := func(s string) { w.WriteString(s + "\r\n"); w.Flush() }
	say("220 sink.test ESMTP")
	var env strings.Builder
	for {
		line, err := r.ReadLine()
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch verb {
		case "EHLO", "HELO":
			say("250 sink.test")
		case "MAIL", "RCPT":
			env.WriteString(line + "\n")
			say("250 Ok")
		case "DATA":
			say("354 go ahead")
			body, err := r.ReadDotBytes()
			if err != nil {
				return
			}
			k.mu.Lock()
			k.msgs = append(k.msgs, env.String()+string(body))
			k.mu.Unlock()
			env.Reset()
			say("250 Ok: queued")
		case "QUIT":
			say("221 Bye")
			return
		case "RSET":
			env.Reset()
			say("250 Ok")
		default:
			say("250 Ok")
		}
	}
}
