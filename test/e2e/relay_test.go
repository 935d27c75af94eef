package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The smtp client end to end (issue 5): mailhorn relays to real peers on
// loopback — another mailhorn, Postfix's smtp-sink — finding them through
// MX records served by a DNS server of the test's own
// (mailhorn_dns_resolver). MX hosts are 127.0.0.x addresses; the port,
// which DNS cannot say, comes from the transport's next hop
// "smtp:domain:port" (MX lookup, then that port; docs/smtp.md).

// appendMainCF adds "name = value" lines to a system's main.cf; earlier
// settings of the same names are dropped (no "overriding earlier entry"
// warnings).
func (s *system) appendMainCF(text string) {
	s.t.Helper()
	b, err := os.ReadFile(s.path("etc/main.cf"))
	if err != nil {
		s.t.Fatal(err)
	}
	set := map[string]bool{}
	for _, l := range strings.Split(text, "\n") {
		if k, _, ok := strings.Cut(l, "="); ok {
			set[strings.TrimSpace(k)] = true
		}
	}
	var kept []string
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if k, _, ok := strings.Cut(l, "="); !ok || !set[strings.TrimSpace(k)] || strings.HasPrefix(l, " ") || strings.HasPrefix(l, "#") {
			kept = append(kept, l)
		}
	}
	s.writeFile("etc/main.cf", strings.Join(kept, "")+text+"\n")
}

// serveDomain makes the system's virtual mailbox domain dom instead of
// example.test, with mailboxes for users (indexed with mailhorn map).
func (s *system) serveDomain(dom string, users ...string) {
	s.t.Helper()
	s.appendMainCF(fmt.Sprintf("myhostname = mail.%[1]s\nvirtual_mailbox_domains = %[1]s", dom))
	var b strings.Builder
	for _, u := range users {
		fmt.Fprintf(&b, "%s@%s %s/\n", u, dom, u)
	}
	s.writeFile("etc/vmailbox", b.String())
	// As setUsers: the administrator builds the index.
	if out, err := exec.Command(mailhornBin, "map", "-c", s.etc, "hash:"+s.path("etc/vmailbox")).CombinedOutput(); err != nil {
		s.t.Fatalf("mailhorn map: %v\n%s", err, out)
	}
}

// sink is Postfix's smtp-sink listening on one loopback address.
type sink struct {
	t      *testing.T
	addr   string
	cmd    *exec.Cmd
	exited chan struct{}
}

// startSink runs /usr/sbin/smtp-sink with opts (e.g. "-r", "RCPT": 4xx
// at RCPT; "-f", "RCPT": 5xx) on addr, and waits until it accepts.
func startSink(t *testing.T, addr string, opts ...string) *sink {
	t.Helper()
	bin := "/usr/sbin/smtp-sink"
	if _, err := os.Stat(bin); err != nil {
		bin = needTool(t, "smtp-sink")
	}
	var args []string
	if runAs.root {
		args = append(args, "-u", "nobody")
	}
	args = append(append(args, opts...), "-h", "sink.test", addr, "16")
	k := &sink{t: t, addr: addr, cmd: exec.Command(bin, args...), exited: make(chan struct{})}
	out, err := os.CreateTemp("", "smtp-sink-*.log")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(out.Name()); out.Close() })
	k.cmd.Stdout, k.cmd.Stderr = out, out
	if err := k.cmd.Start(); err != nil {
		t.Fatalf("smtp-sink: %v", err)
	}
	go func() { k.cmd.Wait(); close(k.exited) }()
	t.Cleanup(k.stop)
	waitListening(t, addr, func() string {
		select {
		case <-k.exited:
			b, _ := os.ReadFile(out.Name())
			return fmt.Sprintf("smtp-sink %q exited: %s", args, b)
		default:
			return ""
		}
	})
	return k
}

// stop ends the sink (SIGTERM) and waits for it.
func (k *sink) stop() {
	if k.cmd.Process == nil {
		return
	}
	k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.exited:
	case <-time.After(patience):
		k.cmd.Process.Kill()
		<-k.exited
	}
}

// relayClient is a mail system (example.test, alice and bob) whose DNS
// is dns and whose transport table sends each domain of routes to its
// next hop ("sink.test": "smtp:sink.test:2525").
func relayClient(t *testing.T, dns *dnsServer, routes map[string]string, extra string) *system {
	t.Helper()
	var kv []string
	for d, nh := range routes {
		kv = append(kv, d+"="+nh)
	}
	slices.Sort(kv)
	return newSystem(t, options{mainCF: fmt.Sprintf("mailhorn_dns_resolver = %s\ntransport_maps = inline:{%s}\n%s",
		dns.addr, strings.Join(kv, ", "), extra)})
}

// TestRelayMXFallbackToMailhorn: A finds B through MX records; the first
// MX (preference 10) refuses connections, the second (20) is B, another
// mailhorn, which delivers into its Maildir.
func TestRelayMXFallbackToMailhorn(t *testing.T) {
	t.Parallel()
	b := newSystem(t, options{users: []string{}})
	b.serveDomain("b.test", "carol")
	b.start()
	port := strconv.Itoa(b.port)
	// Nothing listens on 127.0.0.2: B binds 127.0.0.1 only.
	dns := startDNS(t,
		"b.test. MX 20 mx2.b.test.",
		"b.test. MX 10 mx1.b.test.",
		"mx1.b.test. A 127.0.0.2",
		"mx2.b.test. A 127.0.0.1",
	)
	a := relayClient(t, dns, map[string]string{"b.test": "smtp:b.test:" + port}, "")
	a.start()

	c := dial(t, a.addr())
	id := c.sendMail("alice@"+domain, []string{"carol@b.test"}, testMessage("alice@"+domain, "carol@b.test", "<mx-1@e2e.test>", "over MX"))
	c.cmd("QUIT", 221, "")

	msgs := b.waitDelivered(1)
	m := msgs[0]
	if m.user != "carol" || m.msgID != "<mx-1@e2e.test>" {
		t.Errorf("B delivered %s %s, want carol <mx-1@e2e.test>", m.user, m.msgID)
	}
	if !strings.HasPrefix(m.raw, "Return-Path: <alice@"+domain+">\n") {
		t.Errorf("B's copy does not keep the envelope sender:\n%s", m.raw)
	}
	// B's Received names A's smtp client; A's own Received is below it.
	if !strings.Contains(m.raw, "by mail.b.test") || !strings.Contains(m.raw, "by mail.example.test") {
		t.Errorf("B's copy lacks the Received headers of both hops:\n%s", m.raw)
	}
	a.waitLog(id+": to=<carol@b.test>", "relay=mx2.b.test[127.0.0.1]:"+port, "dsn=2.", "status=sent")
	a.waitLog(id + ": removed")
	if len(a.queued()) != 0 {
		t.Errorf("A's queue not empty: %q", a.queued())
	}
	a.stop()
	b.stop()
}

// sinkRelay sets up DNS for sink.test (one MX, 127.0.0.1) and a client
// system routing sink.test to the sink's port.
func sinkRelay(t *testing.T) (a *system, sinkAddr string) {
	t.Helper()
	sinkAddr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	_, port, _ := net.SplitHostPort(sinkAddr)
	dns := startDNS(t, "sink.test. MX 10 mx.sink.test.", "mx.sink.test. A 127.0.0.1")
	return relayClient(t, dns, map[string]string{"sink.test": "smtp:sink.test:" + port}, ""), sinkAddr
}

// TestRelayDeferThenSent: smtp-sink answers 4xx at RCPT: deferred, the
// message waits in deferred/. The sink restarted answering 2xx and
// `mailhorn queue -f`: sent, removed.
func TestRelayDeferThenSent(t *testing.T) {
	t.Parallel()
	a, addr := sinkRelay(t)
	k := startSink(t, addr, "-r", "RCPT")
	a.start()
	c := dial(t, a.addr())
	id := c.sendMail("alice@"+domain, []string{"rcpt@sink.test"}, testMessage("alice@"+domain, "rcpt@sink.test", "<defer@e2e.test>", "deferred first"))
	c.cmd("QUIT", 221, "")

	line := a.waitLog(id+": to=<rcpt@sink.test>", "status=deferred")[0]
	if !strings.Contains(line, "host mx.sink.test[127.0.0.1] said: 4") || !strings.Contains(line, "in reply to RCPT TO command") {
		t.Errorf("deferral does not carry the remote reply: %s", line)
	}
	a.settled("the message in deferred/", func() bool {
		q := a.queued()
		return len(q) == 1 && strings.HasPrefix(q[0], "deferred/")
	}, func() string { return fmt.Sprintf("queue: %q", a.queued()) })

	k.stop()
	startSink(t, addr)
	if code, out := a.mailhorn("queue", "-c", a.etc, "-f"); code != 0 {
		t.Fatalf("mailhorn queue -f: exit %d: %s", code, out)
	}
	a.waitLog(id+": to=<rcpt@sink.test>", "relay=mx.sink.test[127.0.0.1]:", "status=sent")
	a.waitLog(id + ": removed")
	a.settled("the queue empty", func() bool { return len(a.queued()) == 0 },
		func() string { return fmt.Sprintf("queue: %q", a.queued()) })
	a.stop()
}

// TestRelayBounceWithRemoteText: smtp-sink answers 5xx at RCPT: the
// sender (a local virtual mailbox) gets a DSN quoting the remote reply.
func TestRelayBounceWithRemoteText(t *testing.T) {
	t.Parallel()
	a, addr := sinkRelay(t)
	startSink(t, addr, "-f", "RCPT")
	a.start()
	c := dial(t, a.addr())
	id := c.sendMail("alice@"+domain, []string{"rcpt@sink.test"}, testMessage("alice@"+domain, "rcpt@sink.test", "<bounce@e2e.test>", "to be bounced"))
	c.cmd("QUIT", 221, "")

	line := a.waitLog(id+": to=<rcpt@sink.test>", "status=bounced")[0]
	if !strings.Contains(line, "host mx.sink.test[127.0.0.1] said: 5") {
		t.Errorf("bounce log line lacks the remote reply: %s", line)
	}
	msgs := a.waitDelivered(1)
	dsn := msgs[0]
	if dsn.user != "alice" {
		t.Errorf("the bounce went to %s, want alice", dsn.user)
	}
	for _, want := range []string{
		"Return-Path: <>",
		"host mx.sink.test[127.0.0.1] said: 5",
		"Final-Recipient: rfc822; rcpt@sink.test",
		"Action: failed",
		"Diagnostic-Code: smtp; 5",
		"<bounce@e2e.test>",
	} {
		if !strings.Contains(dsn.raw, want) {
			t.Errorf("the bounce lacks %q:\n%s", want, dsn.raw)
		}
	}
	a.stop()
}

// TestRelayLoop: A and B each send loop.test to the other. Every hop adds
// a Received: header; at hopcount_limit (5) cleanup bounces the message
// (5.4.6 Too many hops) and the bounce reaches the sender on A.
func TestRelayLoop(t *testing.T) {
	t.Parallel()
	a := newSystem(t, options{mainCF: "hopcount_limit = 5"})
	b := newSystem(t, options{users: []string{}, mainCF: "hopcount_limit = 5"})
	b.serveDomain("b.test", "carol")
	a.appendMainCF(fmt.Sprintf("transport_maps = inline:{loop.test=smtp:[127.0.0.1]:%d}", b.port))
	b.appendMainCF(fmt.Sprintf("transport_maps = inline:{loop.test=smtp:[127.0.0.1]:%[1]d, %[2]s=smtp:[127.0.0.1]:%[1]d}", a.port, domain))
	b.start()
	a.start()
	if a.port == b.port {
		t.Fatal("both systems on one port")
	}
	c := dial(t, a.addr())
	c.sendMail("alice@"+domain, []string{"x@loop.test"}, testMessage("alice@"+domain, "x@loop.test", "<loop@e2e.test>", "looping"))
	c.cmd("QUIT", 221, "")

	msgs := a.waitDelivered(1)
	dsn := msgs[0]
	if dsn.user != "alice" || !strings.Contains(dsn.raw, "Return-Path: <>") {
		t.Errorf("want a bounce in alice's Maildir, got %s:\n%s", dsn.user, dsn.raw)
	}
	for _, want := range []string{"Too many hops", "5.4.6", "Final-Recipient: rfc822; x@loop.test", "<loop@e2e.test>"} {
		if !strings.Contains(dsn.raw, want) {
			t.Errorf("the bounce lacks %q:\n%s", want, dsn.raw)
		}
	}
	// The loop ended: B's queue empties too and nothing was delivered there.
	b.settled("B's queue empty", func() bool { return len(b.queued()) == 0 },
		func() string { return fmt.Sprintf("queue: %q", b.queued()) })
	if got := b.messages(); len(got) != 0 {
		t.Errorf("B delivered %d messages, want none", len(got))
	}
	if n := len(a.logLines("status=bounced", "5.4.6")) + len(b.logLines("status=bounced", "5.4.6")); n != 1 {
		t.Errorf("%d status=bounced 5.4.6 lines on A and B, want 1:\nA:\n%s\nB:\n%s", n, a.maillog(), b.maillog())
	}
	a.stop()
	b.stop()
}
