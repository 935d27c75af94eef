package pop3d

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"mailhorn/internal/store"
)

// The states of RFC 1939 §3 (UPDATE is the QUIT command's work).
type state int

const (
	stateAuthorization state = iota
	stateTransaction
)

// errHangup ends a session after its last reply.
var errHangup = errors.New("hang up")

// errBad is a command answered with -ERR that counts towards
// BadCommandLimit.
var errBad = errors.New("bad command")

type session struct {
	srv  *Server
	opt  *Options
	raw  net.Conn // the accepted connection
	conn net.Conn // raw, or the TLS connection over it
	r    *bufio.Reader
	w    *bufio.Writer
	ctx  context.Context
	idle atomic.Bool // waiting for a command (Shutdown wakes it)

	addr, local netip.Addr
	tls         bool
	started     time.Time
	state       state
	bad         int    // invalid commands in a row
	endReason   string // why the session ended, for the log

	// AUTHORIZATION
	userArg      string // USER's argument, until PASS
	haveUser     bool
	authAttempts int
	authUser     string // the last name tried, for the log
	authMethod   string
	plainRefused bool // tried USER/PASS/AUTH before TLS with TLSAuthOnly

	// TRANSACTION: the maildrop snapshot
	login       string
	root        string // lock key
	box         mailbox
	msgs        []store.Message
	uidValidity uint32
	deleted     []bool
	seen        []bool // retrieved, to be flagged \Seen at QUIT
	nDeleted    int
	delSize     int64
	total       int64

	topCount, retrCount int
	topBytes, retrBytes int64
}

func newSession(srv *Server, c net.Conn) *session {
	s := &session{srv: srv, opt: &srv.Opts, raw: c, started: time.Now()}
	s.setConn(c)
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		s.addr = ap.Addr().Unmap()
	}
	if ap, err := netip.ParseAddrPort(c.LocalAddr().String()); err == nil {
		s.local = ap.Addr().Unmap()
	}
	return s
}

// setConn makes c the connection read and written; what was buffered from
// the previous one is dropped (RFC 2595 §3.2 after STLS).
func (s *session) setConn(c net.Conn) {
	s.conn = c
	s.r = bufio.NewReaderSize(c, 4096)
	s.w = bufio.NewWriterSize(deadlineWriter{c, s.opt.Timeout}, 32*1024)
}

// deadlineWriter gives each write to the connection the timeout.
type deadlineWriter struct {
	c       net.Conn
	timeout time.Duration
}

func (d deadlineWriter) Write(p []byte) (int, error) {
	if d.timeout > 0 {
		d.c.SetWriteDeadline(time.Now().Add(d.timeout))
	}
	return d.c.Write(p)
}

func (s *session) reply(line string) { s.w.WriteString(line + "\r\n") }

func (s *session) flush() error { return s.w.Flush() }

func (s *session) serve(ctx context.Context) {
	var cancel context.CancelFunc
	s.ctx, cancel = context.WithCancel(ctx)
	defer cancel()
	defer s.finish()
	if s.opt.ConnLimit > 0 && s.addr.IsValid() {
		defer s.srv.conns.Closed(s.addr)
		if n, _ := s.srv.conns.Opened(s.addr, 0); n > s.opt.ConnLimit {
			s.srv.MailLog.Warning("Too many connections from %s (%d, limit %d)", s.addr, n, s.opt.ConnLimit)
			s.endReason = "too many connections"
			if !s.opt.WrapperMode {
				s.reply("-ERR [SYS/TEMP] Too many connections from your IP address.")
				s.flush()
			}
			return
		}
	}
	if s.opt.WrapperMode {
		if s.opt.TLS == nil {
			s.endReason = "TLS wrapper mode without a certificate"
			s.srv.Log.Error("pop3d: wrapper mode without TLS configuration")
			return
		}
		if err := s.handshake(); err != nil {
			s.endReason = "TLS handshaking failed: " + err.Error()
			return
		}
	}
	s.reply("+OK " + s.opt.Hostname + " POP3 server ready.")
	for {
		if s.r.Buffered() == 0 {
			if err := s.flush(); err != nil {
				s.endReason = "Connection closed"
				return
			}
		}
		line, err := s.readCommand()
		if err != nil {
			s.readFailed(err)
			return
		}
		err = s.command(line)
		switch {
		case err == errHangup:
			s.flush()
			return
		case err == errBad:
			s.bad++
			if s.opt.BadCommandLimit > 0 && s.bad >= s.opt.BadCommandLimit {
				s.reply("-ERR Too many bad commands.")
				s.flush()
				s.endReason = "Too many bad commands"
				return
			}
		case err != nil:
			s.endReason = "Connection closed"
			return
		default:
			s.bad = 0
		}
	}
}

// readCommand waits for the next command line.
func (s *session) readCommand() (string, error) {
	if s.opt.Timeout > 0 {
		s.raw.SetReadDeadline(time.Now().Add(s.opt.Timeout))
	} else {
		s.raw.SetReadDeadline(time.Time{})
	}
	s.idle.Store(true)
	defer s.idle.Store(false)
	if s.r.Buffered() == 0 && s.srv.conns.Closing() {
		return "", errShutdown
	}
	line, err := readLine(s.r, s.opt.lineLimit())
	if err != nil && s.srv.conns.Closing() && errors.Is(err, os.ErrDeadlineExceeded) {
		return "", errShutdown
	}
	return line, err
}

var errShutdown = errors.New("server shutting down")

// readFailed answers and logs a session that ends while reading.
func (s *session) readFailed(err error) {
	switch {
	case err == errShutdown:
		s.reply("-ERR [SYS/TEMP] Server shutting down.")
		s.endReason = "Server shutting down"
	case err == errLineTooLong:
		s.reply("-ERR Input line too long, aborting")
		s.endReason = "Input buffer full"
	case errors.Is(err, os.ErrDeadlineExceeded):
		s.reply("-ERR Disconnected for inactivity.")
		s.endReason = "for inactivity"
	default:
		s.endReason = "Connection closed"
	}
	s.flush()
}

// handshake runs the TLS server handshake on the raw connection.
func (s *session) handshake() error {
	tc := tls.Server(s.raw, s.opt.TLS)
	t := s.opt.Timeout
	if t <= 0 || t > time.Minute {
		t = time.Minute
	}
	ctx, cancel := context.WithTimeout(s.ctx, t)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	s.tls = true
	s.setConn(tc)
	return nil
}

// command runs one command line.
func (s *session) command(line string) error {
	name, args := parseCommand(line)
	if s.state == stateAuthorization {
		switch name {
		case "CAPA":
			return s.cmdCapa()
		case "USER":
			return s.cmdUser(args)
		case "PASS":
			return s.cmdPass(args)
		case "AUTH":
			return s.cmdAuth(args)
		case "STLS":
			return s.cmdStls()
		case "APOP":
			s.reply("-ERR APOP not enabled.")
			return errBad
		case "QUIT":
			s.reply("+OK Logging out.")
			s.endReason = "Aborted login"
			return errHangup
		case "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL":
			s.reply("-ERR Unknown command: " + name + " (log in first)")
			return errBad
		}
		s.reply("-ERR Unknown command.")
		return errBad
	}
	switch name {
	case "CAPA":
		return s.cmdCapa()
	case "STAT":
		return s.cmdStat()
	case "LIST":
		return s.cmdList(args)
	case "RETR":
		return s.cmdRetr(args)
	case "TOP":
		return s.cmdTop(args)
	case "DELE":
		return s.cmdDele(args)
	case "NOOP":
		s.reply("+OK")
		return nil
	case "RSET":
		return s.cmdRset()
	case "UIDL":
		return s.cmdUidl(args)
	case "QUIT":
		return s.cmdQuit()
	}
	s.reply("-ERR Unknown command: " + printable(name))
	return errBad
}

// printable keeps a client's word safe to echo: at most 40 octets of
// printable ASCII.
func printable(w string) string {
	if len(w) > 40 {
		w = w[:40]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e {
			return '?'
		}
		return r
	}, w)
}

// cmdCapa answers CAPA (RFC 2449 §5). USER and SASL are shown only where
// they would be accepted, STLS only before TLS.
func (s *session) cmdCapa() error {
	s.reply("+OK Capability list follows")
	for _, c := range []string{"CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"} {
		s.reply(c)
	}
	if s.state == stateAuthorization {
		if s.opt.TLS != nil && !s.tls {
			s.reply("STLS")
		}
		if s.authAllowed() {
			s.reply("USER")
			if mechs := s.mechanisms(); len(mechs) > 0 {
				s.reply("SASL " + strings.Join(mechs, " "))
			}
		}
	}
	s.reply("IMPLEMENTATION mailhorn")
	s.reply(".")
	return nil
}

// cmdStls starts TLS (RFC 2595 §4). Whatever the client sent after STLS
// and before the handshake is dropped with the old reader.
func (s *session) cmdStls() error {
	switch {
	case s.tls:
		s.reply("-ERR TLS is already active.")
		return errBad
	case s.opt.TLS == nil:
		s.reply("-ERR TLS support isn't enabled.")
		return errBad
	}
	s.reply("+OK Begin TLS negotiation now.")
	if err := s.flush(); err != nil {
		return err
	}
	if err := s.handshake(); err != nil {
		s.endReason = "TLS handshaking failed: " + err.Error()
		return errHangup
	}
	// A USER given before STLS is forgotten with the rest.
	s.haveUser, s.userArg = false, ""
	return nil
}

// finish releases the maildrop and logs the end of the session.
func (s *session) finish() {
	if s.box != nil {
		s.box.Close()
		s.srv.Locks.unlock(s.root)
		reason := "Disconnected: " + s.endReason
		if s.endReason == "for inactivity" {
			reason = "Disconnected for inactivity"
		}
		s.srv.MailLog.Printf("%s top=%d/%d, retr=%d/%d, del=%d/%d, size=%d, user=<%s>, rip=%s",
			reason, s.topCount, s.topBytes, s.retrCount, s.retrBytes, s.nDeleted, len(s.msgs), s.total, s.login, s.addr)
		return
	}
	secs := int(time.Since(s.started).Seconds())
	what := fmt.Sprintf("no auth attempts in %d secs", secs)
	switch {
	case s.authAttempts > 0:
		what = fmt.Sprintf("auth failed, %d attempts in %d secs", s.authAttempts, secs)
	case s.plainRefused:
		what = "tried to use disallowed plaintext auth"
	}
	prefix := "Disconnected"
	if s.endReason == "Aborted login" {
		prefix = "Aborted login"
	}
	line := fmt.Sprintf("%s (%s): user=<%s>", prefix, what, s.authUser)
	if s.authMethod != "" {
		line += ", method=" + s.authMethod
	}
	line += fmt.Sprintf(", rip=%s, lip=%s", s.addr, s.local)
	if s.tls {
		line += ", TLS"
	}
	if s.endReason != "" && s.endReason != "Aborted login" && s.endReason != "Connection closed" {
		line += ": " + s.endReason
	}
	s.srv.MailLog.Printf("%s", line)
}
