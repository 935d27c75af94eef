package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestBruteForce: 100 wrong passwords from one client (127.0.0.9) are
// slowed (auth_failure_delay after each failure) and, past
// auth_failure_limit, refused at once with 421 4.7.0 and a hang-up; from
// that client even the right password is refused while it is limited.
// Another client (127.0.0.1) logs in with the right password meanwhile and
// its mail is delivered; the log shows no failure for it. An unknown user
// and a wrong password get the same reply.
//
// The only time measured is a lower bound (a failure takes at least the
// delay): never an upper one.
func TestBruteForce(t *testing.T) {
	t.Parallel()
	const (
		delay    = time.Second // auth_failure_delay: mailhorn's time syntax has no ms
		limit    = 5           // auth_failure_limit
		attempts = 100
	)
	s := newSystem(t, options{})
	s.enableAuth(map[string]string{"alice@" + domain: "alice-demo-password"},
		"smtpd_sasl_auth_enable = yes\nauth_failure_limit = 5\nmynetworks = 127.0.0.1/32\n")
	s.start()

	// Unknown user and wrong password, from a client of its own, under
	// the limit: the same reply, word for word.
	c := dialFrom(t, "127.0.0.8", s.addr())
	c.expect(220, "")
	c.cmd("EHLO client.example.net", 250, "AUTH")
	wrong := c.cmd(authPlain("alice@"+domain, "wrong"), 535, "5.7.8")
	unknown := c.cmd(authPlain("nobody@"+domain, "wrong"), 535, "5.7.8")
	if wrong != unknown {
		t.Errorf("wrong password: %q; unknown user: %q: they must not differ", wrong, unknown)
	}
	c.cmd("QUIT", 221, "")

	// The attack: sessions of pipelined AUTH commands (three per write)
	// until 100 attempts are answered.
	var failed, refused, sessions int
	for tried := 0; tried < attempts; {
		sessions++
		c := dialFrom(t, outside, s.addr())
		c.expect(220, "")
		c.cmd("EHLO client.example.net", 250, "")
		hungUp := false
		for !hungUp && tried < attempts {
			n := min(3, attempts-tried)
			c.send(strings.Repeat(authPlain("alice@"+domain, "guess")+"\r\n", n))
			// Replies to pipelined commands may be held back and
			// flushed together: the bound is on the whole batch.
			start, batchFailed := time.Now(), 0
			for range n {
				code, text, err := c.tryReply()
				if err != nil {
					hungUp = true
					break
				}
				tried++
				switch {
				case code == 535 && strings.HasPrefix(text, "5.7.8"):
					failed++
					batchFailed++
					if el := time.Since(start); el < time.Duration(batchFailed)*delay {
						t.Errorf("%d failures answered after %v, before %d × auth_failure_delay (%v)", batchFailed, el, batchFailed, delay)
					}
				case code == 421 && strings.HasPrefix(text, "4.7.0"):
					refused++
					if _, _, err := c.tryReply(); err == nil {
						t.Errorf("the session goes on after 421 %s", text)
					}
					hungUp = true
				default:
					t.Fatalf("attempt %d: reply %d %q, want 535 5.7.8 or 421 4.7.0", tried, code, text)
				}
				if hungUp {
					break
				}
			}
		}
		c.c.Close()
	}
	t.Logf("%d attempts in %d sessions: %d failed (535), %d refused (421)", attempts, sessions, failed, refused)
	if failed > limit || refused == 0 {
		t.Errorf("%d failures answered 535 and %d refused with 421; want at most auth_failure_limit (%d) failures, then refusals", failed, refused, limit)
	}

	// The right password from the limited client: refused too.
	c = dialFrom(t, outside, s.addr())
	c.expect(220, "")
	c.cmd("EHLO client.example.net", 250, "")
	c.cmd(authPlain("alice@"+domain, "alice-demo-password"), 421, "4.7.0")

	// Another client is not affected: it logs in and sends.
	c = dialFrom(t, "127.0.0.1", s.addr())
	c.expect(220, "")
	c.cmd("EHLO client.example.net", 250, "AUTH")
	c.cmd(authPlain("alice@"+domain, "alice-demo-password"), 235, "2.7.0")
	c.sendMail("alice@"+domain, []string{"bob@" + domain}, testMessage("alice@"+domain, "bob@"+domain, "<brute@e2e.test>", "still works"))
	c.cmd("QUIT", 221, "")
	if msgs := s.waitDelivered(1); msgs[0].msgID != "<brute@e2e.test>" {
		t.Errorf("delivered %s", msgs[0].msgID)
	}
	s.waitLog("client=localhost[127.0.0.1], sasl_method=PLAIN, sasl_username=alice@" + domain)
	if lines := s.logLines("127.0.0.1]", "authentication failed"); len(lines) > 0 {
		t.Errorf("failures logged for 127.0.0.1: %q", lines)
	}
	if lines := s.logLines("unknown[127.0.0.9]", "authentication failed"); len(lines) == 0 {
		t.Errorf("no failure logged for 127.0.0.9")
	}
	s.stop()
}
