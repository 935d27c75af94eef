package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// conn is a raw SMTP client: it writes exactly what the test says, so that
// malformed and pipelined input reaches the server as is.
type conn struct {
	t *testing.T
	c net.Conn
	r *textproto.Reader
}

// dial connects and reads the greeting.
func dial(t *testing.T, addr string) *conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("connect %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	sc := &conn{t: t, c: c, r: textproto.NewReader(bufio.NewReader(c))}
	sc.expect(220, "")
	return sc
}

// send writes raw bytes.
func (c *conn) send(s string) {
	c.t.Helper()
	// A hang guard, not a measurement.
	c.c.SetDeadline(time.Now().Add(patience))
	if _, err := c.c.Write([]byte(s)); err != nil {
		c.t.Fatalf("write %q: %v", s, err)
	}
}

// reply reads one (possibly multi-line) reply.
func (c *conn) reply() (int, string) {
	c.t.Helper()
	c.c.SetDeadline(time.Now().Add(patience))
	code, msg, err := c.r.ReadResponse(0)
	if err != nil {
		c.t.Fatalf("read reply: %v (got %d %q)", err, code, msg)
	}
	return code, msg
}

// expect reads a reply and checks its code and that its text contains want.
func (c *conn) expect(code int, want string) string {
	c.t.Helper()
	got, msg := c.reply()
	if got != code || !strings.Contains(msg, want) {
		c.t.Fatalf("reply %d %q, want %d with %q", got, msg, code, want)
	}
	return msg
}

// cmd sends one command line and checks the reply.
func (c *conn) cmd(line string, code int, want string) string {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.expect(code, want)
}

// sendMail runs one whole transaction and returns the queue ID of the 250
// reply. body is the message with CRLF line endings, already dot-stuffed.
func (c *conn) sendMail(from string, to []string, body string) string {
	c.t.Helper()
	c.cmd("MAIL FROM:<"+from+">", 250, "2.1.0")
	for _, r := range to {
		c.cmd("RCPT TO:<"+r+">", 250, "2.1.5")
	}
	c.cmd("DATA", 354, "")
	c.send(body + ".\r\n")
	return queueID(c.t, c.expect(250, "2.0.0 Ok: queued as "))
}

// queueID takes the ID out of "2.0.0 Ok: queued as ID".
func queueID(t *testing.T, reply string) string {
	t.Helper()
	_, id, ok := strings.Cut(reply, "queued as ")
	if f := strings.Fields(id); ok && len(f) > 0 {
		return f[0]
	}
	t.Fatalf("no queue ID in %q", reply)
	return ""
}

// testMessage is a small message with a unique Message-ID, CRLF endings.
func testMessage(from, to, msgID, subject string) string {
	return fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: %s\r\n\r\nThis is %s.\r\n",
		from, to, subject, msgID, subject)
}

// sendSMTP delivers messages over one net/smtp session (Go's client, with
// its own EHLO, PIPELINING-unaware but standard sequence).
type smtpSession struct {
	c *smtp.Client
}

func newSMTPSession(addr string) (*smtpSession, error) {
	c, err := smtp.Dial(addr)
	if err != nil {
		return nil, err
	}
	if err := c.Hello("load.e2e.test"); err != nil {
		c.Close()
		return nil, err
	}
	return &smtpSession{c: c}, nil
}

// send returns nil only when the server said 250 to the end of data.
func (s *smtpSession) send(from, to, msg string) error {
	if err := s.c.Mail(from); err != nil {
		return err
	}
	if err := s.c.Rcpt(to); err != nil {
		return err
	}
	w, err := s.c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	return w.Close()
}

func (s *smtpSession) close() {
	s.c.Quit()
	s.c.Close()
}
