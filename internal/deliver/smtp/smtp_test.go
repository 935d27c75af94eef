package smtp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"mailhorn/internal/deliver"
	"mailhorn/internal/queue"
	"mailhorn/internal/smtpd"
)

// world is a DNS zone and our smtpd peers on 127.0.0.x, all on one port:
//
//	pref.test     MX 10 mx1.pref.test (127.0.0.3, refuses connections)
//	              MX 20 mx2.pref.test (127.0.0.2, smtpd)
//	nomx.test     A 127.0.0.2 (implicit MX)
//	nullmx.test   MX 0 .
//	tls.test      MX 10 mx.tls.test (127.0.0.4, smtpd with STARTTLS, certificate for mx.tls.test)
//	badname.test  MX 10 mx.badname.test (127.0.0.5, STARTTLS, certificate for other.test)
//	small.test    MX 10 mx.small.test (127.0.0.6, SIZE 20, no SMTPUTF8)
//	servfail.test SERVFAIL; anything else NXDOMAIN
type world struct {
	port     string
	resolver Resolver
	plain    *sink
	tls      *sink
	small    *sink
	accepts  *atomic.Int32 // connections accepted by the plain peer
}

func newWorld(t *testing.T) (*world, *tlsCA) {
	t.Helper()
	mx := func(pref uint16, host string) *dns.MX { return &dns.MX{Preference: pref, Mx: host} }
	z := &dnsServer{
		mx: map[string][]*dns.MX{
			"pref.test.":    {mx(20, "mx2.pref.test."), mx(10, "mx1.pref.test.")},
			"nullmx.test.":  {mx(0, ".")},
			"tls.test.":     {mx(10, "mx.tls.test.")},
			"badname.test.": {mx(10, "mx.badname.test.")},
			"small.test.":   {mx(10, "mx.small.test.")},
		},
		a: map[string][]string{
			"mx1.pref.test.":   {"127.0.0.3"},
			"mx2.pref.test.":   {"127.0.0.2"},
			"nomx.test.":       {"127.0.0.2"},
			"mx.tls.test.":     {"127.0.0.4"},
			"mx.badname.test.": {"127.0.0.5"},
			"mx.small.test.":   {"127.0.0.6"},
		},
	}
	w := &world{port: freePort(t), accepts: &atomic.Int32{}}
	w.resolver = NewResolver(startDNS(t, z))
	w.plain = peer(t, countAccepts{listenAt(t, "127.0.0.2", w.port), w.accepts}, nil)
	pool, good := testCA(t, "mx.tls.test")
	_, bad := testCA(t, "other.test")
	w.tls = peer(t, listenAt(t, "127.0.0.4", w.port), func(o *smtpd.Options) {
		o.TLS = &tls.Config{Certificates: []tls.Certificate{good}}
	})
	peer(t, listenAt(t, "127.0.0.5", w.port), func(o *smtpd.Options) {
		o.TLS = &tls.Config{Certificates: []tls.Certificate{bad}}
	})
	w.small = peer(t, listenAt(t, "127.0.0.6", w.port), func(o *smtpd.Options) {
		o.MessageSizeLimit = 20
		o.SMTPUTF8 = false
	})
	return w, &tlsCA{pool}
}

type countAccepts struct {
	net.Listener
	n *atomic.Int32
}

func (c countAccepts) Accept() (net.Conn, error) {
	conn, err := c.Listener.Accept()
	if err == nil {
		c.n.Add(1)
	}
	return conn, err
}

func (w *world) agent(edit func(*Options)) *Agent {
	o := testOptions(w.port)
	if edit != nil {
		edit(&o)
	}
	a := New(o, w.resolver, nil)
	return a
}

type want struct {
	status deliver.Status
	dsn    string
	text   string // substring of Result.Text
	remote string // substring of Result.Remote
}

func check(t *testing.T, res []deliver.Result, wants ...want) {
	t.Helper()
	if len(res) != len(wants) {
		t.Fatalf("got %d results, want %d: %+v", len(res), len(wants), res)
	}
	for i, w := range wants {
		r := res[i]
		if r.Index != i || r.Status != w.status || r.DSN != w.dsn || !strings.Contains(r.Text, w.text) || !strings.Contains(r.Remote, w.remote) {
			t.Errorf("result %d = %+v\nwant %+v", i, r, w)
		}
	}
}

func TestDeliverSMTP(t *testing.T) {
	w, ca := newWorld(t)
	mx2 := "mx2.pref.test[127.0.0.2]"
	tests := []struct {
		name    string
		nexthop string
		opts    func(*Options)
		rcpts   []string
		relay   string
		want    []want
	}{
		{"MX preference, first MX refuses, per-recipient replies", "pref.test", nil,
			[]string{"ok@pref.test", "unknown@pref.test", "temp@pref.test"}, mx2 + ":" + w.port, []want{
				{deliver.Sent, "2.0.0", "250 2.0.0 Ok: queued as Q", "smtp; 250 2.0.0"},
				{deliver.Bounced, "5.1.1", "host " + mx2 + " said: 550 5.1.1 <unknown@pref.test>: Recipient address rejected: User unknown (in reply to RCPT TO command)", "smtp; 550 5.1.1 <unknown@pref.test>"},
				{deliver.Deferred, "4.2.0", "said: 450 4.2.0", "smtp; 450 4.2.0"},
			}},
		{"implicit MX", "nomx.test", nil, []string{"a@nomx.test"}, "nomx.test[127.0.0.2]:" + w.port,
			[]want{{deliver.Sent, "2.0.0", "queued as", ""}}},
		{"null MX", "nullmx.test", nil, []string{"a@nullmx.test"}, "smtp",
			[]want{{deliver.Bounced, "5.1.10", "does not accept mail (nullMX)", ""}}},
		{"NXDOMAIN", "nowhere.test", nil, []string{"a@nowhere.test"}, "smtp",
			[]want{{deliver.Bounced, "5.1.2", "Host or domain name not found", ""}}},
		{"SERVFAIL defers", "servfail.test", nil, []string{"a@servfail.test"}, "smtp",
			[]want{{deliver.Deferred, "4.4.3", "try again", ""}}},
		{"[addr]:port, no MX lookup", "[127.0.0.2]:" + w.port, func(o *Options) { o.DefaultPort = "1" }, []string{"a@x.test"},
			"127.0.0.2[127.0.0.2]:" + w.port, []want{{deliver.Sent, "2.0.0", "queued as", ""}}},
		{"[host], A lookup, no MX", "[mx2.pref.test]", nil, []string{"a@x.test"}, mx2 + ":" + w.port,
			[]want{{deliver.Sent, "2.0.0", "queued as", ""}}},
		{"all addresses refuse", "[mx1.pref.test]", nil, []string{"a@x.test"}, "mx1.pref.test[127.0.0.3]:" + w.port,
			[]want{{deliver.Deferred, "4.4.1", "connect to mx1.pref.test[127.0.0.3]:" + w.port + ": Connection refused", ""}}},
		{"fallback relay after refusal", "[mx1.pref.test]", func(o *Options) { o.FallbackRelay = []string{"[127.0.0.2]"} }, []string{"a@x.test"},
			"127.0.0.2[127.0.0.2]:" + w.port, []want{{deliver.Sent, "2.0.0", "queued as", ""}}},
		{"address limit 1 stops at the refusing MX", "pref.test", func(o *Options) { o.MXAddressLimit = 1 }, []string{"a@pref.test"},
			"mx1.pref.test[127.0.0.3]:" + w.port, []want{{deliver.Deferred, "4.4.1", "Connection refused", ""}}},
		{"ipv6 only finds no address", "[mx2.pref.test]", func(o *Options) { o.Protocols = []string{"ipv6"} }, []string{"a@x.test"},
			"smtp", []want{{deliver.Bounced, "5.1.2", "not found", ""}}},
		{"may: plaintext when STARTTLS is not offered", "pref.test", func(o *Options) { o.TLSLevel = TLSMay }, []string{"a@pref.test"},
			mx2 + ":" + w.port, []want{{deliver.Sent, "2.0.0", "queued as", ""}}},
		{"encrypt: STARTTLS required", "pref.test", func(o *Options) { o.TLSLevel = TLSEncrypt }, []string{"a@pref.test"},
			mx2 + ":" + w.port, []want{{deliver.Deferred, "4.7.4", "TLS is required, but was not offered by host " + mx2, ""}}},
		{"may: untrusted certificate is fine", "badname.test", func(o *Options) { o.TLSLevel = TLSMay }, []string{"a@badname.test"},
			"mx.badname.test[127.0.0.5]:" + w.port, []want{{deliver.Sent, "2.0.0", "queued as", ""}}},
		{"verify: certificate matches the MX name", "tls.test", func(o *Options) { o.TLSLevel, o.RootCAs = TLSVerify, ca.pool }, []string{"a@tls.test"},
			"mx.tls.test[127.0.0.4]:" + w.port, []want{{deliver.Sent, "2.0.0", "queued as", ""}}},
		{"verify: wrong name fails", "badname.test", func(o *Options) { o.TLSLevel, o.RootCAs = TLSVerify, ca.pool }, []string{"a@badname.test"},
			"mx.badname.test[127.0.0.5]:" + w.port, []want{{deliver.Deferred, "4.7.5", "TLS handshake with mx.badname.test[127.0.0.5] failed", ""}}},
		{"secure: the MX name is not the next-hop domain", "tls.test", func(o *Options) {
			o.TLSLevel, o.RootCAs, o.SecureMatch = TLSSecure, ca.pool, []string{"nexthop"}
		}, []string{"a@tls.test"},
			"mx.tls.test[127.0.0.4]:" + w.port, []want{{deliver.Deferred, "4.7.5", "name mismatch", ""}}},
		{"secure: dot-nexthop (default) matches", "tls.test", func(o *Options) { o.TLSLevel, o.RootCAs = TLSSecure, ca.pool }, []string{"a@tls.test"}, "mx.tls.test[127.0.0.4]:" + w.port, []want{{deliver.Sent, "2.0.0", "queued as", ""}}},
		{"SIZE: larger than the server takes", "small.test", nil, []string{"a@small.test"}, "mx.small.test[127.0.0.6]:" + w.port,
			[]want{{deliver.Bounced, "5.3.4", "exceeds size limit 20 of server mx.small.test[127.0.0.6]", ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := w.agent(tc.opts)
			defer a.Close()
			res := a.Deliver(context.Background(), request(t, tc.nexthop, "s@sender.test", message, tc.rcpts...))
			check(t, res, tc.want...)
			for _, r := range res {
				if r.Relay != tc.relay {
					t.Errorf("relay %q, want %q", r.Relay, tc.relay)
				}
			}
		})
	}
	for _, m := range w.small.all() {
		t.Errorf("the small peer received a message: %+v", m.msg)
	}
}

func TestContentAndDSN(t *testing.T) {
	w, _ := newWorld(t)
	a := w.agent(nil)
	req := request(t, "pref.test", "s@sender.test", message+"no newline at end", "ok@pref.test", "two@pref.test")
	req.EnvID, req.Ret, req.Body = "env+id 1", "HDRS", "8BITMIME"
	req.Recipients[0].Notify = queue.NotifySuccess | queue.NotifyFailure
	req.Recipients[0].Original = "Orig@pref.test"
	req.Recipients[1].Notify = queue.NotifyNever
	check(t, a.Deliver(context.Background(), req), want{deliver.Sent, "2.0.0", "", ""}, want{deliver.Sent, "2.0.0", "", ""})
	got := w.plain.all()
	if len(got) != 1 {
		t.Fatalf("peer got %d messages", len(got))
	}
	m := got[0]
	if want := message + "no newline at end\n"; m.content != want {
		t.Errorf("content %q, want %q", m.content, want)
	}
	attrs := map[string]string{}
	for _, at := range m.msg.Attrs {
		attrs[at.Name] = at.Value
	}
	if attrs[queue.AttrEnvID] != "env+id 1" || attrs[queue.AttrRet] != "HDRS" || attrs[queue.AttrBody] != "8BITMIME" {
		t.Errorf("MAIL parameters seen by the peer: %v", attrs)
	}
	r := m.msg.Recipients
	if r[0].Notify != queue.NotifySuccess|queue.NotifyFailure || r[0].ORCPT != "rfc822;Orig@pref.test" || r[1].Notify != queue.NotifyNever {
		t.Errorf("RCPT parameters seen by the peer: %+v", r)
	}
}

func TestSMTPUTF8(t *testing.T) {
	w, _ := newWorld(t)
	a := w.agent(nil)
	req := request(t, "small.test", "s@sender.test", "x\n", "jürgen@small.test")
	req.SMTPUTF8 = true
	check(t, a.Deliver(context.Background(), req), want{deliver.Bounced, "5.6.7", "SMTPUTF8 is required, but was not offered by host mx.small.test[127.0.0.6]", ""})
	// ASCII envelope: sent without SMTPUTF8, as Postfix does.
	req = request(t, "small.test", "s@sender.test", "x\n", "ascii@small.test")
	req.SMTPUTF8 = true
	check(t, a.Deliver(context.Background(), req), want{deliver.Sent, "2.0.0", "", ""})
	// A peer that offers it gets it.
	req = request(t, "pref.test", "s@sender.test", "x\n", "jürgen@pref.test")
	req.SMTPUTF8 = true
	check(t, a.Deliver(context.Background(), req), want{deliver.Sent, "2.0.0", "", ""})
	got := w.plain.all()
	if len(got) != 1 || got[0].msg.Recipients[0].Address != "jürgen@pref.test" || got[0].msg.Recipients[0].ORCPT != `utf-8;j\x{FC}rgen@pref.test` {
		t.Fatalf("peer got %+v", got)
	}
}

func TestConnectionCache(t *testing.T) {
	w, _ := newWorld(t)
	a := w.agent(func(o *Options) { o.CacheTime = time.Minute })
	defer a.Close()
	for i := range 3 {
		res := a.Deliver(context.Background(), request(t, "pref.test", "s@sender.test", message, fmt.Sprintf("r%d@pref.test", i)))
		check(t, res, want{deliver.Sent, "2.0.0", "", ""})
	}
	if n := w.accepts.Load(); n != 1 {
		t.Errorf("peer accepted %d connections for 3 deliveries, want 1 (cached)", n)
	}
	if got := len(w.plain.all()); got != 3 {
		t.Errorf("peer got %d messages, want 3", got)
	}
}

func TestCancelled(t *testing.T) {
	w, _ := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	check(t, w.agent(nil).Deliver(ctx, request(t, "pref.test", "", message, "a@pref.test")), want{deliver.Deferred, "4.3.0", "", ""})
}

type tlsCA struct{ pool *x509.CertPool }
