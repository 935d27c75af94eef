package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestRejections: a client outside mynetworks gets the right codes for
// what it may not do, and none of it leaves a message in any mailbox or in
// the queue. The SMTP smuggling payloads deliver exactly one message each,
// with the smuggled commands inside it as text.
func TestRejections(t *testing.T) {
	t.Parallel()
	s := newSystem(t, options{mainCF: `
# 127.0.0.1 is NOT in mynetworks: the tests are the outside world.
mynetworks = 192.0.2.0/24
message_size_limit = 10240
`})
	s.start()
	delivered := 0

	t.Run("oversize", func(t *testing.T) {
		c := dial(t, s.addr())
		c.cmd("EHLO outside.example", 250, "SIZE 10240")
		// Declared too big: refused at MAIL (RFC 1870).
		c.cmd("MAIL FROM:<carol@example.net> SIZE=20000", 552, "5.3.4")
		// Undeclared and too big: refused at the end of data.
		c.cmd("MAIL FROM:<carol@example.net>", 250, "2.1.0")
		c.cmd("RCPT TO:<alice@"+domain+">", 250, "2.1.5")
		c.cmd("DATA", 354, "")
		big := strings.Repeat(strings.Repeat("x", 70)+"\r\n", 200) // 14400 octets
		c.send(testMessage("carol@example.net", "alice@"+domain, "<big@e2e.test>", "too big") + big + ".\r\n")
		c.expect(552, "5.3.4")
		// The session goes on.
		c.cmd("NOOP", 250, "2.0.0")
		c.cmd("QUIT", 221, "")
	})

	t.Run("unknown user", func(t *testing.T) {
		c := dial(t, s.addr())
		c.cmd("EHLO outside.example", 250, "")
		c.cmd("MAIL FROM:<carol@example.net>", 250, "2.1.0")
		c.cmd("RCPT TO:<nosuch@"+domain+">", 550, "5.1.1 <nosuch@"+domain+">: Recipient address rejected: User unknown in virtual mailbox table")
		c.cmd("DATA", 554, "5.5.1")
		c.cmd("QUIT", 221, "")
		s.waitLog("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 550 5.1.1 <nosuch@" + domain + ">")
	})

	t.Run("relay denied", func(t *testing.T) {
		c := dial(t, s.addr())
		c.cmd("EHLO outside.example", 250, "")
		c.cmd("MAIL FROM:<carol@example.net>", 250, "2.1.0")
		c.cmd("RCPT TO:<someone@elsewhere.example>", 554, "5.7.1 <someone@elsewhere.example>: Relay access denied")
		c.cmd("RCPT TO:<someone@[192.0.2.7]>", 554, "5.7.1")
		c.cmd("DATA", 554, "5.5.1")
		c.cmd("QUIT", 221, "")
	})

	t.Run("bad commands", func(t *testing.T) {
		c := dial(t, s.addr())
		c.cmd("RCPT TO:<alice@"+domain+">", 503, "5.5.1")
		c.cmd("DATA", 503, "5.5.1")
		c.cmd("EHLO", 501, "")
		c.cmd("EHLO outside.example", 250, "")
		c.cmd("FROB", 502, "5.5.2")
		c.cmd("MAIL", 501, "")
		c.cmd("MAIL FROM:<carol@example.net> BOGUS=1", 555, "5.5.4")
		c.cmd("MAIL FROM:<carol@example.net>", 250, "2.1.0")
		c.cmd("MAIL FROM:<carol@example.net>", 503, "5.5.1")
		c.cmd("RCPT", 501, "5.5.4")
		c.cmd("RCPT TO:<alice@"+domain, 501, "")
		c.cmd("RCPT TO:<alice@"+domain+"> NOTIFY=BOGUS", 501, "5.5.4")
		c.cmd("NOOP "+strings.Repeat("x", 5000), 500, "5.5.2")
		c.cmd("VRFY alice", 502, "5.5.1")
		c.cmd("RSET", 250, "2.0.0")
		c.cmd("QUIT", 221, "")
	})

	t.Run("too many errors", func(t *testing.T) {
		// smtpd_hard_error_limit (20): then 421 and the connection closes.
		c := dial(t, s.addr())
		for i := 0; ; i++ {
			c.send("FROB\r\n")
			code, msg := c.reply()
			if code == 421 {
				if !strings.Contains(msg, "4.7.0") {
					t.Errorf("421 reply without 4.7.0: %q", msg)
				}
				break
			}
			if code != 502 || i > 30 {
				t.Fatalf("error %d: reply %d %q, want 502 then 421 after smtpd_hard_error_limit", i+1, code, msg)
			}
		}
	})

	// Each payload hides a second transaction (to bob) after something that
	// a lax server takes for the end of data. Only <CR><LF>.<CR><LF> may end
	// it: one message, to alice, with the second transaction as its text.
	for i, sep := range []string{"\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n"} {
		t.Run(fmt.Sprintf("smuggling %q", sep), func(t *testing.T) {
			c := dial(t, s.addr())
			c.cmd("EHLO outside.example", 250, "")
			c.cmd("MAIL FROM:<carol@example.net>", 250, "2.1.0")
			c.cmd("RCPT TO:<alice@"+domain+">", 250, "2.1.5")
			c.cmd("DATA", 354, "")
			c.send(fmt.Sprintf("From: <carol@example.net>\r\nSubject: smuggling %d\r\nMessage-ID: <smuggle-%d@e2e.test>\r\n\r\nfirst part%s"+
				"MAIL FROM:<evil@example.net>\r\nRCPT TO:<bob@%s>\r\nDATA\r\nSubject: smuggled-%d\r\n\r\nsmuggled text %d\r\n.\r\n",
				i, i, sep, domain, i, i))
			c.expect(250, "2.0.0 Ok: queued as")
			// Had the server split the data, this would read the
			// smuggled MAIL's reply instead of QUIT's.
			c.cmd("QUIT", 221, "")
		})
		delivered++
	}

	// A last good message: once it is delivered and the queue is empty,
	// every accepted message has landed, and the count must be exact.
	c := dial(t, s.addr())
	c.cmd("EHLO outside.example", 250, "")
	c.sendMail("carol@example.net", []string{"alice@" + domain}, testMessage("carol@example.net", "alice@"+domain, "<last@e2e.test>", "last"))
	c.cmd("QUIT", 221, "")
	delivered++

	msgs := s.waitDelivered(delivered)
	for _, m := range msgs {
		if m.user != "alice" {
			t.Errorf("message delivered to %s (smuggled?):\n%s", m.user, m.raw)
		}
		var n int
		if _, err := fmt.Sscanf(m.msgID, "<smuggle-%d@e2e.test>", &n); err == nil {
			if !strings.Contains(m.raw, "RCPT TO:<bob@"+domain+">") || !strings.Contains(m.raw, fmt.Sprintf("smuggled text %d", n)) {
				t.Errorf("smuggling payload %d: the smuggled commands are not in the message:\n%s", n, m.raw)
			}
		} else if m.msgID != "<last@e2e.test>" {
			t.Errorf("unexpected message %s:\n%s", m.msgID, m.raw)
		}
	}
	s.stop()
}

// TestRelayFromMynetworks: a client in mynetworks may relay; with no way
// to reach the destination the message is deferred and stays queued.
func TestRelayFromMynetworks(t *testing.T) {
	t.Parallel()
	s := newSystem(t, options{mainCF: fmt.Sprintf(`
# Nothing listens there: the relayed message cannot go out, now or later.
relayhost = [127.0.0.1]:%d
`, freePort(t))})
	s.start()
	c := dial(t, s.addr())
	c.cmd("EHLO inside.example", 250, "")
	id := c.sendMail("alice@"+domain, []string{"someone@elsewhere.example"},
		testMessage("alice@"+domain, "someone@elsewhere.example", "<relay@e2e.test>", "relayed"))
	c.cmd("QUIT", 221, "")

	s.waitLog(id+": to=<someone@elsewhere.example>", "status=deferred")
	inQueue := func() bool {
		for _, f := range s.queued() {
			if filepath.Base(f) == id && strings.HasPrefix(f, "deferred/") {
				return true
			}
		}
		return false
	}
	// The log line may come a moment before the move to deferred/.
	s.eventually("in the deferred queue", inQueue, func() string { return fmt.Sprintf("queue: %q", s.queued()) })
	if lines := s.logLines(id + ": removed"); len(lines) > 0 {
		t.Errorf("deferred message removed: %q", lines)
	}
	s.stop()
	if !inQueue() {
		t.Errorf("deferred message %s left the deferred queue at stop: %q", id, s.queued())
	}
	if n := len(s.messages()); n != 0 {
		t.Errorf("%d messages in local mailboxes, want none", n)
	}
}
