package e2e

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

// The restriction lists (issue 6 item 4) against Postfix: one main.cf
// block of restrictions and the same lookup tables are loaded into a
// private Postfix instance and into mailhorn; a corpus of SMTP sessions is
// played against both, from client addresses inside (127.0.0.1) and
// outside (127.0.0.9, and 127.0.0.10-.16 which the client table knows)
// mynetworks. Every reply must have the same code and enhanced code, and
// the same text once queue IDs are normalised; EHLO's extension list is
// compared by code only, since the two servers offer different
// extensions. Both servers listen twice: the main.cf settings
// (smtpd_delay_reject = yes) and "-o smtpd_delay_reject=no".
//
// DNS lists (reject_rbl_client and friends) are not in the diff: Postfix
// takes its name servers from /etc/resolv.conf, which cannot name a port,
// and the test must not change the machine's resolver. TestRestrictRBL
// checks mailhorn alone against Postfix's documented reply instead.

// restrictCF is the shared main.cf block; %[1]s is the directory of the
// tables.
const restrictCF = `
myhostname = mail.example.test
mydomain = example.test
myorigin = $mydomain
smtpd_banner = $myhostname ESMTP
mynetworks = 127.0.0.1/32
smtpd_helo_required = yes
smtpd_delay_reject = yes
relay_domains = relay.test
relay_recipient_maps = hash:%[1]s/relay_recipients
smtpd_restriction_classes = vip_only
vip_only = check_sender_access hash:%[1]s/vip_senders, reject
smtpd_client_restrictions = check_client_access hash:%[1]s/client_access
smtpd_helo_restrictions = permit_mynetworks, reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname, check_helo_access hash:%[1]s/helo_access
smtpd_sender_restrictions = reject_non_fqdn_sender, reject_unlisted_sender, warn_if_reject check_sender_access hash:%[1]s/warn_senders, check_sender_access hash:%[1]s/sender_access
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = reject_non_fqdn_recipient, check_recipient_access hash:%[1]s/recipient_access, reject_unlisted_recipient
smtpd_data_restrictions = reject_unauth_pipelining
smtpd_end_of_data_restrictions = check_sender_access hash:%[1]s/eod_senders
`

// restrictTables are the lookup tables of restrictCF (source text; each
// server indexes it with its own postmap).
var restrictTables = map[string]string{
	"vmailbox":         "alice@example.test alice/\nbob@example.test bob/\nblocked@example.test blocked/\ngrey@example.test grey/\n",
	"relay_recipients": "known@relay.test x\n",
	"client_access": `127.0.0.10 REJECT
127.0.0.11 450 4.7.1 come back later
127.0.0.12 DEFER
127.0.0.13 521 5.7.1 not here
127.0.0.14 HOLD
127.0.0.15 DISCARD
127.0.0.16 WARN client under watch
`,
	"helo_access": `bad.helo.test REJECT
busy.helo.test 451 4.3.2 helo later
friend.helo.test OK
`,
	"warn_senders": "spam@warn.test REJECT spam sender\n",
	"sender_access": `spammer@example.net REJECT
spammer2@example.net REJECT no thanks
deferme@example.net DEFER
tempfail@example.net 450 4.7.1 come back later
permfail@example.net 550 5.7.1 not you
partial.test 554 bad domain
okay@example.net OK
dunno@example.net DUNNO
hold@example.net HOLD
discard@example.net DISCARD
watch@example.net WARN watch this sender
bad@ REJECT local part bad
`,
	"recipient_access": `blocked@example.test REJECT
bob@example.test vip_only
grey@example.test 451 4.7.1 Try again
`,
	"vip_senders": "boss@example.net OK\n",
	"eod_senders": "bigmouth@example.net REJECT no end\n",
}

// diffSession is one SMTP session of the corpus. cmds are sent one by
// one, except with pipe, where everything up to the first DATA goes in one
// write. After a 354 reply to DATA a small message and "." follow, and the
// reply to "." is a step of its own.
type diffSession struct {
	name    string
	client  string // the client's address: 127.0.0.1 is in mynetworks
	nodelay bool   // the listener with -o smtpd_delay_reject=no
	pipe    bool
	cmds    []string
}

// A transaction with the usual parts, from an outside client.
func txn(helo, from, rcpt string) []string {
	return []string{"EHLO " + helo, "MAIL FROM:<" + from + ">", "RCPT TO:<" + rcpt + ">", "DATA", "QUIT"}
}

const (
	inside  = "127.0.0.1"
	outside = "127.0.0.9"
)

var restrictCorpus = []diffSession{
	// mynetworks and relaying
	{name: "inside to local", client: inside, cmds: txn("client.example.net", "x@example.net", "alice@example.test")},
	{name: "inside relays", client: inside, cmds: txn("client.example.net", "x@example.net", "someone@elsewhere.test")},
	{name: "inside bad helo permitted", client: inside, cmds: txn("bad_helo!", "x@example.net", "alice@example.test")},
	{name: "outside relay denied", client: outside, cmds: []string{"EHLO client.example.net", "MAIL FROM:<x@example.net>",
		"RCPT TO:<someone@elsewhere.test>", "RCPT TO:<alice@example.test>", "DATA", "QUIT"}},
	{name: "outside relay domain", client: outside, cmds: []string{"EHLO client.example.net", "MAIL FROM:<x@example.net>",
		"RCPT TO:<known@relay.test>", "RCPT TO:<unknown@relay.test>", "RCPT TO:<KNOWN@Relay.Test>", "QUIT"}},
	{name: "outside case", client: outside, cmds: txn("client.example.net", "X@Example.NET", "ALICE@EXAMPLE.TEST")},
	// HELO
	{name: "helo required", client: outside, cmds: []string{"MAIL FROM:<x@example.net>", "HELO", "HELO client.example.net", "MAIL FROM:<x@example.net>", "QUIT"}},
	{name: "invalid helo", client: outside, cmds: txn("bad_helo!", "x@example.net", "alice@example.test")},
	{name: "non-fqdn helo", client: outside, cmds: txn("shortname", "x@example.net", "alice@example.test")},
	{name: "helo address literal", client: outside, cmds: txn("[127.0.0.9]", "x@example.net", "alice@example.test")},
	{name: "helo bad literal", client: outside, cmds: txn("[127.0.0.999]", "x@example.net", "alice@example.test")},
	{name: "helo trailing dot", client: outside, cmds: txn("client.example.net.", "x@example.net", "alice@example.test")},
	{name: "helo access reject", client: outside, cmds: txn("bad.helo.test", "x@example.net", "alice@example.test")},
	{name: "helo access 451", client: outside, cmds: txn("busy.helo.test", "x@example.net", "alice@example.test")},
	{name: "helo access ok", client: outside, cmds: txn("friend.helo.test", "spammer@example.net", "alice@example.test")},
	{name: "helo twice", client: outside, cmds: []string{"HELO client.example.net", "EHLO bad.helo.test", "MAIL FROM:<x@example.net>", "RCPT TO:<alice@example.test>", "QUIT"}},
	// senders
	{name: "sender non-fqdn", client: outside, cmds: txn("client.example.net", "user", "alice@example.test")},
	{name: "sender non-fqdn domain", client: outside, cmds: txn("client.example.net", "user@localdomain", "alice@example.test")},
	{name: "sender unlisted", client: outside, cmds: txn("client.example.net", "nobody@example.test", "alice@example.test")},
	{name: "sender null", client: outside, cmds: txn("client.example.net", "", "alice@example.test")},
	{name: "sender reject", client: outside, cmds: txn("client.example.net", "spammer@example.net", "alice@example.test")},
	{name: "sender reject text", client: outside, cmds: txn("client.example.net", "spammer2@example.net", "alice@example.test")},
	{name: "sender defer", client: outside, cmds: txn("client.example.net", "deferme@example.net", "alice@example.test")},
	{name: "sender 450 text", client: outside, cmds: txn("client.example.net", "tempfail@example.net", "alice@example.test")},
	{name: "sender 550 text", client: outside, cmds: txn("client.example.net", "permfail@example.net", "alice@example.test")},
	{name: "sender parent domain", client: outside, cmds: txn("client.example.net", "u@sub.partial.test", "alice@example.test")},
	{name: "sender ok", client: outside, cmds: txn("client.example.net", "okay@example.net", "blocked@example.test")},
	{name: "sender dunno", client: outside, cmds: txn("client.example.net", "dunno@example.net", "alice@example.test")},
	{name: "sender hold", client: outside, cmds: txn("client.example.net", "hold@example.net", "alice@example.test")},
	{name: "sender discard", client: outside, cmds: txn("client.example.net", "discard@example.net", "alice@example.test")},
	{name: "sender warn", client: outside, cmds: txn("client.example.net", "watch@example.net", "alice@example.test")},
	{name: "sender local part key", client: outside, cmds: txn("client.example.net", "bad@anywhere.example", "alice@example.test")},
	{name: "warn_if_reject", client: outside, cmds: txn("client.example.net", "spam@warn.test", "alice@example.test")},
	{name: "end of data reject", client: outside, cmds: txn("client.example.net", "bigmouth@example.net", "alice@example.test")},
	// recipients
	{name: "rcpt reject", client: outside, cmds: txn("client.example.net", "x@example.net", "blocked@example.test")},
	{name: "rcpt unlisted", client: outside, cmds: txn("client.example.net", "x@example.net", "nosuch@example.test")},
	{name: "rcpt non-fqdn", client: outside, cmds: txn("client.example.net", "x@example.net", "alice")},
	{name: "rcpt 451", client: outside, cmds: txn("client.example.net", "x@example.net", "grey@example.test")},
	{name: "class permits", client: outside, cmds: txn("client.example.net", "boss@example.net", "bob@example.test")},
	{name: "class rejects", client: outside, cmds: txn("client.example.net", "other@example.net", "bob@example.test")},
	// clients
	{name: "client reject", client: "127.0.0.10", cmds: txn("client.example.net", "x@example.net", "alice@example.test")},
	{name: "client 450 text", client: "127.0.0.11", cmds: txn("client.example.net", "x@example.net", "alice@example.test")},
	{name: "client defer", client: "127.0.0.12", cmds: txn("client.example.net", "x@example.net", "alice@example.test")},
	{name: "client 521", client: "127.0.0.13", cmds: txn("client.example.net", "x@example.net", "alice@example.test")},
	{name: "client hold", client: "127.0.0.14", cmds: txn("client.example.net", "x@example.net", "alice@example.test")},
	{name: "client discard", client: "127.0.0.15", cmds: txn("client.example.net", "x@example.net", "alice@example.test")},
	{name: "client warn", client: "127.0.0.16", cmds: txn("client.example.net", "x@example.net", "alice@example.test")},
	// pipelining
	{name: "pipelined after EHLO", client: outside, pipe: true, cmds: []string{"EHLO client.example.net", "MAIL FROM:<x@example.net>",
		"RCPT TO:<alice@example.test>", "RCPT TO:<nosuch@example.test>", "DATA", "QUIT"}},
	{name: "pipelined after HELO", client: outside, pipe: true, cmds: []string{"HELO client.example.net", "MAIL FROM:<x@example.net>",
		"RCPT TO:<alice@example.test>", "DATA", "QUIT"}},
	// smtpd_delay_reject = no
	{name: "nodelay client reject", client: "127.0.0.10", nodelay: true, cmds: txn("client.example.net", "x@example.net", "alice@example.test")},
	{name: "nodelay client 450", client: "127.0.0.11", nodelay: true, cmds: txn("client.example.net", "x@example.net", "alice@example.test")},
	{name: "nodelay helo reject", client: outside, nodelay: true, cmds: txn("bad.helo.test", "x@example.net", "alice@example.test")},
	{name: "nodelay invalid helo", client: outside, nodelay: true, cmds: txn("bad_helo!", "x@example.net", "alice@example.test")},
	{name: "nodelay sender reject", client: outside, nodelay: true, cmds: txn("client.example.net", "spammer@example.net", "alice@example.test")},
	{name: "nodelay sender non-fqdn", client: outside, nodelay: true, cmds: txn("client.example.net", "user", "alice@example.test")},
	{name: "nodelay rcpt reject", client: outside, nodelay: true, cmds: txn("client.example.net", "x@example.net", "blocked@example.test")},
}

// restrictKnown lists the steps ("session/step number") where mailhorn
// deliberately answers otherwise than Postfix, with the reason. They are
// shown in the table but do not fail the test.
var restrictKnown = map[string]string{}

// step is one command of a session and the server's reply.
type step struct {
	cmd  string
	code int
	text string // the reply's lines joined with "\n"; "" when closed
}

// TestRestrictDiff: the corpus against Postfix and mailhorn.
func TestRestrictDiff(t *testing.T) {
	needRoot(t) // Postfix's master starts as root
	// Postfix.
	p := newPostfix(t, "restrict")
	pfMain, pfNodelay := freePort(t), freePort(t)
	pf := pfConfig{
		myhostname: "mail.example.test",
		mainCF: fmt.Sprintf(restrictCF, p.conf) + fmt.Sprintf(`virtual_mailbox_domains = example.test
virtual_mailbox_maps = hash:%s/vmailbox
virtual_transport = discard
relay_transport = discard
default_transport = discard
`, p.conf),
		listeners: []pfListener{{port: pfMain}, {port: pfNodelay, opts: []string{"smtpd_delay_reject=no"}}},
		maps:      restrictTables,
	}
	p.start(pf)

	// mailhorn.
	s := newSystem(t, options{})
	for name, text := range restrictTables {
		s.writeFile("etc/"+name, text)
		if out, err := exec.Command(mailhornBin, "map", "-c", s.etc, "hash:"+s.path("etc/"+name)).CombinedOutput(); err != nil {
			t.Fatalf("mailhorn map %s: %v\n%s", name, err, out)
		}
	}
	s.appendMainCF(fmt.Sprintf(restrictCF, s.etc) + "default_transport = discard\n")
	mhNodelay := freePort(t)
	s.addService(fmt.Sprintf("127.0.0.1:%d inet n - n - - smtpd\n  -o smtpd_delay_reject=no\n", mhNodelay))
	s.start()
	waitListening(t, "127.0.0.1:"+strconv.Itoa(mhNodelay), nil)

	type result struct{ pf, mh []step }
	results := make([]result, len(restrictCorpus))
	for i, sess := range restrictCorpus {
		pport, mport := pfMain, s.port
		if sess.nodelay {
			pport, mport = pfNodelay, mhNodelay
		}
		results[i].pf = playSession(t, sess, "127.0.0.1:"+strconv.Itoa(pport), nil)
		results[i].mh = playSession(t, sess, "127.0.0.1:"+strconv.Itoa(mport), nil)
	}

	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "session\tstep\tcommand\tPostfix\tmailhorn\t")
	failed := 0
	badSessions := map[int]bool{}
	for i, sess := range restrictCorpus {
		r := results[i]
		for j := 0; j < max(len(r.pf), len(r.mh)); j++ {
			var a, b step
			if j < len(r.pf) {
				a = r.pf[j]
			}
			if j < len(r.mh) {
				b = r.mh[j]
			}
			if sameReply(a, b) {
				continue
			}
			badSessions[i] = true
			key := fmt.Sprintf("%s/%d", sess.name, j)
			mark := "DIFF"
			if why, ok := restrictKnown[key]; ok {
				mark = "known: " + why
			} else {
				failed++
			}
			cmd := a.cmd
			if cmd == "" {
				cmd = b.cmd
			}
			fmt.Fprintf(tw, "%s\t%d\t%.40q\t%d %.70q\t%d %.70q\t%s\n", sess.name, j, cmd, a.code, a.text, b.code, b.text, mark)
		}
	}
	tw.Flush()
	if failed > 0 {
		t.Errorf("%d replies differ from Postfix's:\n%s", failed, table.String())
	} else if len(badSessions) > 0 {
		t.Logf("deliberate differences:\n%s", table.String())
	}
	for i, sess := range restrictCorpus {
		if badSessions[i] || testing.Verbose() {
			t.Logf("%s (client %s)\nPostfix:%s\nmailhorn:%s", sess.name, sess.client, transcript(results[i].pf), transcript(results[i].mh))
		}
	}

	// HOLD puts the message in the hold queue, DISCARD accepts and drops it
	// (Postfix: "discard" in the log; mailhorn the same).
	s.settled("the HOLD messages in hold/", func() bool {
		n := 0
		for _, f := range s.queued() {
			if strings.HasPrefix(f, "hold/") {
				n++
			}
		}
		return n == 2
	}, func() string { return fmt.Sprintf("queue: %q", s.queued()) })
	// The actions' log lines are Postfix's.
	pfActs, mhActs := actionLines(p.log()), actionLines(s.maillog())
	if !slices.Equal(pfActs, mhActs) || len(pfActs) != 7 {
		t.Errorf("HOLD, DISCARD, WARN and warn_if_reject log lines:\nPostfix:\n%s\nmailhorn:\n%s",
			strings.Join(pfActs, "\n"), strings.Join(mhActs, "\n"))
	}
	s.stop()
}

// actionLine matches smtpd's log line for a HOLD, DISCARD, WARN action or
// a warn_if_reject, without the time, the program and its pid.
var actionLine = regexp.MustCompile(`/smtpd\[\d+\]: (NOQUEUE: (hold|discard|warn|reject_warning): .*)`)

// actionLines are the action lines of a log, sorted.
func actionLines(log string) []string {
	var out []string
	for _, m := range actionLine.FindAllStringSubmatch(log, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return out
}

// queuedAs matches the queue ID in "250 2.0.0 Ok: queued as ID".
var queuedAs = regexp.MustCompile(`queued as [0-9A-Za-z]+`)

// enhanced matches an RFC 3463 enhanced status code at the start of a text.
var enhanced = regexp.MustCompile(`^[245]\.\d{1,3}\.\d{1,3}`)

// sameReply compares two replies: code, enhanced code, and the text
// (queue IDs normalised), except that a multi-line EHLO reply is compared
// by code only.
func sameReply(a, b step) bool {
	if a.code != b.code || enhanced.FindString(a.text) != enhanced.FindString(b.text) {
		return false
	}
	if strings.HasPrefix(strings.ToUpper(a.cmd), "EHLO") && a.code == 250 {
		return true
	}
	return queuedAs.ReplaceAllString(a.text, "queued as ID") == queuedAs.ReplaceAllString(b.text, "queued as ID")
}

func transcript(steps []step) string {
	var b strings.Builder
	for _, s := range steps {
		fmt.Fprintf(&b, "\n  C: %s\n  S: %d %s", s.cmd, s.code, strings.ReplaceAll(s.text, "\n", " | "))
	}
	return b.String()
}

// playSession runs one session of the corpus against addr, from the
// session's client address, and returns every reply, the greeting first
// (command ""). A command with bare LFs in it is several lines to the
// server, so as many replies are read. After a 220 to STARTTLS the
// session goes on over TLS with tlsConf. A closed connection ends the
// session (code 0).
func playSession(t *testing.T, sess diffSession, addr string, tlsConf *tls.Config) []step {
	t.Helper()
	c := dialFrom(t, sess.client, addr)
	defer func() { c.c.Close() }()
	var steps []step
	read := func(cmd string) bool {
		for range 1 + strings.Count(cmd, "\n") {
			code, text, err := c.tryReply()
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// A hang guard: a server that stops answering would
				// otherwise cost every later session the same wait.
				t.Fatalf("%s: no reply from %s to %q within %v (a stuck server)", sess.name, addr, cmd, patience)
			}
			steps = append(steps, step{cmd: cmd, code: code, text: text})
			if err != nil {
				return false
			}
		}
		return true
	}
	// after handles what follows a reply: the message after 354, the
	// handshake after STARTTLS.
	after := func(cmd string) bool {
		last := steps[len(steps)-1]
		switch {
		case cmd == "DATA" && last.code == 354:
			c.send("Subject: " + sess.name + "\r\n\r\nsession " + sess.name + "\r\n.\r\n")
			return read(".")
		case cmd == "STARTTLS" && last.code == 220:
			if err := c.startTLS(tlsConf); err != nil {
				steps = append(steps, step{cmd: "(TLS handshake)", text: err.Error()})
				return false
			}
		}
		return true
	}
	if !read("") {
		return steps
	}
	cmds := sess.cmds
	if sess.pipe {
		n := slices.Index(cmds, "DATA") + 1
		if n == 0 {
			n = len(cmds)
		}
		c.send(strings.Join(cmds[:n], "\r\n") + "\r\n")
		for _, cmd := range cmds[:n] {
			if !read(cmd) {
				return steps
			}
		}
		if !after(cmds[n-1]) {
			return steps
		}
		cmds = cmds[n:]
	}
	for _, cmd := range cmds {
		c.send(cmd + "\r\n")
		if !read(cmd) || !after(cmd) {
			return steps
		}
	}
	return steps
}

// startTLS runs the TLS handshake after a 220 reply to STARTTLS; the
// session goes on over TLS.
func (c *conn) startTLS(conf *tls.Config) error {
	tc := tls.Client(c.c, conf)
	tc.SetDeadline(time.Now().Add(patience))
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	c.c = tc
	c.r = textproto.NewReader(bufio.NewReader(tc))
	return nil
}

// dialFrom connects to addr from the local address local (any 127.0.0.0/8
// address works on loopback) without reading the greeting.
func dialFrom(t *testing.T, local, addr string) *conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: patience}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("connect %s from %s: %v", addr, local, err)
	}
	t.Cleanup(func() { c.Close() })
	return &conn{t: t, c: c, r: textproto.NewReader(bufio.NewReader(c))}
}

// tryReply reads one reply like reply, but returns a read error (the
// server hung up) instead of failing the test.
func (c *conn) tryReply() (int, string, error) {
	c.c.SetDeadline(time.Now().Add(patience))
	code, msg, err := c.r.ReadResponse(0)
	if err != nil && code == 0 {
		return 0, "", err
	}
	return code, msg, nil
}

// addService appends text (master.cf lines) to a system's master.cf.
func (s *system) addService(text string) {
	s.t.Helper()
	b, err := os.ReadFile(s.path("etc/master.cf"))
	if err != nil {
		s.t.Fatal(err)
	}
	s.writeFile("etc/master.cf", string(b)+text)
}

// TestRestrictRBL: reject_rbl_client against the test's DNS server
// (mailhorn_dns_resolver), which Postfix cannot be pointed at: the reply
// is the one Postfix documents and sends (smtpd_check.c's default
// rbl_reply_maps text), at RCPT with smtpd_delay_reject = yes; a client
// not listed passes.
func TestRestrictRBL(t *testing.T) {
	t.Parallel()
	dns := startDNS(t, "9.0.0.127.rbl.test. A 127.0.0.2")
	s := newSystem(t, options{mainCF: "mailhorn_dns_resolver = " + dns.addr + `
mynetworks = 127.0.0.1/32
smtpd_client_restrictions = reject_rbl_client rbl.test
`})
	s.start()
	c := dialFrom(t, outside, s.addr())
	c.expect(220, "")
	c.cmd("EHLO client.example.net", 250, "")
	c.cmd("MAIL FROM:<x@example.net>", 250, "2.1.0")
	c.cmd("RCPT TO:<alice@"+domain+">", 554, "5.7.1 Service unavailable; Client host [127.0.0.9] blocked using rbl.test")
	c.cmd("QUIT", 221, "")
	c = dialFrom(t, "127.0.0.10", s.addr())
	c.expect(220, "")
	c.cmd("EHLO client.example.net", 250, "")
	c.cmd("MAIL FROM:<x@example.net>", 250, "2.1.0")
	c.cmd("RCPT TO:<alice@"+domain+">", 250, "2.1.5")
	c.cmd("QUIT", 221, "")
	s.stop()
}
