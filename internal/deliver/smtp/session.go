package smtp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mailhorn/internal/maillog"
	"net"
	"os"
	"syscall"
	"time"
)

// session is one connection to a server, after the greeting and EHLO.
type session struct {
	conn    net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	t       target
	ext     extensions
	tls     string // "TLSv1.3 with cipher ..." once encrypted, "" before
	lmtp    bool
	timeout Timeouts
	// dest is the next hop the session was opened for, and login the
	// SASL user it authenticated as: both decide whether a cached
	// session may be reused.
	dest, login string
	idleSince   time.Time
	broken      bool
}

// stageError is a failure in the conversation: what to answer, and
// whether the session can still be used.
type stageError struct {
	dsn    string
	text   string
	remote string // "smtp; 550 ..." when the server said something
	fatal  bool   // the session is unusable
}

func (e *stageError) Error() string { return e.text }

// cmd sends a command line (or several, pipelined) and flushes.
func (s *session) send(lines ...string) error {
	for _, l := range lines {
		s.w.WriteString(l)
		s.w.WriteString("\r\n")
	}
	return s.w.Flush()
}

// read reads one reply within timeout.
func (s *session) read(timeout time.Duration) (Reply, error) {
	if timeout > 0 {
		s.conn.SetReadDeadline(time.Now().Add(timeout))
	} else {
		s.conn.SetReadDeadline(time.Time{})
	}
	return readReply(s.r)
}

// ioFailure turns an I/O error during stage into the deferral Postfix
// gives: "conversation with ... timed out" or "lost connection".
func (s *session) ioFailure(err error, stage string) *stageError {
	s.broken = true
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &stageError{dsn: "4.4.2", fatal: true, text: fmt.Sprintf("conversation with %s timed out while %s", s.t.hostLabel(), stage)}
	}
	if errors.Is(err, errBadReply) {
		return &stageError{dsn: "4.5.0", fatal: true, text: fmt.Sprintf("host %s sent a malformed reply while %s: %v", s.t.hostLabel(), stage, err)}
	}
	return &stageError{dsn: "4.4.2", fatal: true, text: fmt.Sprintf("lost connection with %s while %s", s.t.hostLabel(), stage)}
}

// rejected is the result of a 4xx/5xx reply to command.
func (s *session) rejected(rep Reply, command string) *stageError {
	e := &stageError{
		dsn:    rep.DSN(),
		text:   fmt.Sprintf("host %s said: %s (in reply to %s command)", s.t.hostLabel(), rep, command),
		remote: "smtp; " + rep.String(),
	}
	if rep.Code == 421 {
		e.fatal = true
		s.broken = true
	}
	return e
}

// connectError words a dial failure as Postfix does.
func connectError(t target, err error) string {
	reason := err.Error()
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		reason = "Connection refused"
	case errors.Is(err, syscall.ENETUNREACH):
		reason = "Network is unreachable"
	case errors.Is(err, syscall.EHOSTUNREACH):
		reason = "No route to host"
	case errors.Is(err, os.ErrNotExist):
		reason = "No such file or directory"
	case errors.As(err, &ne) && ne.Timeout():
		reason = "Connection timed out"
	}
	return fmt.Sprintf("connect to %s: %s", t.label(), reason)
}

// hello reads the greeting and sends EHLO (or LHLO), falling back to
// HELO when EHLO is refused.
func (s *session) hello(o *Options) *stageError {
	greet, err := s.read(o.Timeouts.Helo)
	if err != nil {
		return s.ioFailure(err, "receiving the initial server greeting")
	}
	if greet.Code/100 != 2 {
		e := &stageError{dsn: greet.DSN(), remote: "smtp; " + greet.String(), fatal: true,
			text: fmt.Sprintf("host %s refused to talk to me: %s", s.t.hostLabel(), greet)}
		if greet.Code/100 == 5 && o.Skip5xxGreeting {
			// smtp_skip_5xx_greeting: the next MX may do better, and if
			// none does the mail is deferred, not bounced.
			e.dsn = "4" + e.dsn[1:]
		}
		return e
	}
	return s.ehlo(o)
}

func (s *session) ehlo(o *Options) *stageError {
	verb := "EHLO"
	if s.lmtp {
		verb = "LHLO"
	} else if o.NeverEHLO {
		verb = "HELO"
	}
	if err := s.send(verb + " " + o.HeloName); err != nil {
		return s.ioFailure(err, "sending "+verb)
	}
	rep, err := s.read(o.Timeouts.Helo)
	if err != nil {
		return s.ioFailure(err, "receiving the "+verb+" reply")
	}
	if rep.Code/100 != 2 && verb == "EHLO" && rep.Code != 421 {
		verb = "HELO"
		if err := s.send(verb + " " + o.HeloName); err != nil {
			return s.ioFailure(err, "sending HELO")
		}
		if rep, err = s.read(o.Timeouts.Helo); err != nil {
			return s.ioFailure(err, "receiving the HELO reply")
		}
	}
	if rep.Code/100 != 2 {
		e := s.rejected(rep, verb)
		e.fatal = true
		return e
	}
	s.ext = extensions{}
	if verb != "HELO" {
		s.ext = parseEHLO(rep)
	}
	return nil
}

// starttls upgrades the connection (RFC 3207) and repeats EHLO.
func (s *session) starttls(o *Options, cfg *tls.Config) *stageError {
	if err := s.send("STARTTLS"); err != nil {
		return s.ioFailure(err, "sending STARTTLS")
	}
	rep, err := s.read(o.Timeouts.Helo)
	if err != nil {
		return s.ioFailure(err, "receiving the STARTTLS reply")
	}
	if rep.Code != 220 {
		e := s.rejected(rep, "STARTTLS")
		e.dsn, e.fatal = "4.7.5", true
		return e
	}
	tc := tls.Client(s.conn, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeouts.Helo)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		s.broken = true
		return &stageError{dsn: "4.7.5", fatal: true, text: fmt.Sprintf("TLS handshake with %s failed: %v", s.t.hostLabel(), err)}
	}
	st := tc.ConnectionState()
	s.conn = tc
	s.r = bufio.NewReader(tc)
	s.w = bufio.NewWriter(tc)
	s.tls = fmt.Sprintf("%s with cipher %s", maillog.TLSVersion(st.Version), tls.CipherSuiteName(st.CipherSuite))
	return s.ehlo(o)
}

// quit ends the session politely and closes it.
func (s *session) quit(o *Options) {
	if !s.broken {
		s.conn.SetWriteDeadline(time.Now().Add(o.Timeouts.Quit))
		if s.send("QUIT") == nil {
			s.read(o.Timeouts.Quit)
		}
	}
	s.conn.Close()
}

// rset makes a cached session ready for a new transaction.
func (s *session) rset(o *Options) bool {
	s.conn.SetWriteDeadline(time.Now().Add(o.Timeouts.Rset))
	if err := s.send("RSET"); err != nil {
		return false
	}
	rep, err := s.read(o.Timeouts.Rset)
	return err == nil && rep.Code/100 == 2
}

// writeContent copies the queue file's content (LF line ends) as SMTP
// DATA: CRLF line ends, a leading "." doubled (RFC 5321 §4.5.2), ending
// with "<CRLF>.<CRLF>". A missing final newline is supplied.
func writeContent(w *bufio.Writer, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	bol := true
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if bol && chunk[0] == '.' {
				w.WriteByte('.')
			}
			if chunk[len(chunk)-1] == '\n' {
				body := chunk[:len(chunk)-1]
				if len(body) > 0 && body[len(body)-1] == '\r' {
					body = body[:len(body)-1]
				}
				w.Write(body)
				w.WriteString("\r\n")
				bol = true
			} else {
				w.Write(chunk)
				bol = false
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if !bol {
		w.WriteString("\r\n")
	}
	w.WriteString(".\r\n")
	return w.Flush()
}

// deadlineWriter sets a write deadline before each write, so that
// smtp_data_xfer_timeout bounds each write, not the whole message.
type deadlineWriter struct {
	c net.Conn
	d time.Duration
}

func (w deadlineWriter) Write(p []byte) (int, error) {
	if w.d > 0 {
		w.c.SetWriteDeadline(time.Now().Add(w.d))
	}
	return w.c.Write(p)
}

// setWriteTimeout applies d to the next writes of the session.
func (s *session) setWriteTimeout(d time.Duration) {
	if d > 0 {
		s.conn.SetWriteDeadline(time.Now().Add(d))
	} else {
		s.conn.SetWriteDeadline(time.Time{})
	}
}

// label for logs of the protocol name.
func (s *session) proto() string {
	if s.lmtp {
		return "LMTP"
	}
	return "SMTP"
}
