package smtpd

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"mailhorn/internal/cleanup"
	"mailhorn/internal/maillog"
)

// Outcomes of a command handler besides nil (success) and I/O errors.
var (
	errFail         = errors.New("command refused")      // counts as an error
	errHangup       = errors.New("session ended")        // reply sent; close
	errShuttingDown = errors.New("server shutting down") // from connIO while idle
)

// session is one client connection.
type session struct {
	srv  *Server
	opt  *Options
	log  *maillog.Service
	raw  net.Conn // the accepted connection
	conn net.Conn // raw, or the TLS connection on top of it
	r    *bufio.Reader
	w    *bufio.Writer
	ctx  context.Context

	info     Info
	client   string // "name[addr]" for the mail log
	tlsState *tls.ConnectionState
	txn      *txn
	denied   *Reply // CheckConnect refused: every command but QUIT is refused

	errors    int    // Postfix's error_count
	junk      int    // commands that can be repeated without cost
	overshoot int    // RCPTs refused for the recipient limit
	where     string // last command, for "lost connection after X"
	reason    string // why the session ended abnormally, for the log
	lostBytes int64  // content octets read when the connection was lost in DATA
	quit      bool
	stats     stats
	// saslLogMethod is the AUTH mechanism as the client spelled it, for
	// the "sasl_method=" of the log (Postfix logs it so).
	saslLogMethod string
	idle          atomic.Bool // waiting for a command: Shutdown may wake it
}

// txn is an open mail transaction (after MAIL).
type txn struct {
	sender       string
	size         int64  // SIZE= declared, 0 if none
	body         string // BODY=, upper-cased, "" if none
	ret          string
	envid        string
	smtputf8     bool
	auth         bool // MAIL had AUTH= (RFC 4954 §5)
	rcpts        []cleanup.Recipient
	rcptAttempts int
	bdat         *bdatTxn
}

func newSession(srv *Server, c net.Conn) *session {
	s := &session{srv: srv, opt: &srv.Opts, log: srv.MailLog, raw: c, conn: c, where: "CONNECT"}
	s.r = bufio.NewReaderSize(connIO{s}, 4096)
	s.w = bufio.NewWriterSize(connIO{s}, 4096)
	proto := "SMTP"
	if s.opt.LMTP {
		proto = "LMTP"
	}
	s.info = Info{Name: "unknown", Protocol: proto}
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		s.info.Addr, s.info.Port = ap.Addr().Unmap(), ap.Port()
	}
	return s
}

// connIO is the session's view of its connection: every read first
// flushes pending replies (RFC 2920 §3.1: replies to a pipelined group go
// out when the server would otherwise wait) and restarts smtpd_timeout.
type connIO struct{ s *session }

func (c connIO) Read(p []byte) (int, error) {
	s := c.s
	if err := s.w.Flush(); err != nil {
		return 0, err
	}
	if s.idle.Load() && s.srv.conns.Closing() {
		return 0, errShuttingDown
	}
	if s.opt.Timeout > 0 {
		s.conn.SetReadDeadline(time.Now().Add(s.opt.Timeout))
	}
	return s.conn.Read(p)
}

func (c connIO) Write(p []byte) (int, error) {
	s := c.s
	if s.opt.Timeout > 0 {
		s.conn.SetWriteDeadline(time.Now().Add(s.opt.Timeout))
	}
	return s.conn.Write(p)
}

func (s *session) serve(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.ctx = ctx
	addr := "unknown"
	if s.info.Addr.IsValid() {
		addr = s.info.Addr.String()
		if s.opt.LookupName != nil {
			if n := s.opt.LookupName(ctx, s.info.Addr); n != "" {
				s.info.Name = n
			}
		}
	}
	s.client = maillog.Client(s.info.Name, addr)
	s.log.Connect(s.client)
	defer func() { s.log.Disconnect(s.client, s.stats.String()) }()
	defer s.logReason()
	defer s.resetTxn()
	defer s.recoverPanic()

	if s.opt.WrapperMode && !s.startWrapperTLS() {
		return
	}
	if s.opt.ConnLimit > 0 && s.info.Addr.IsValid() && (s.opt.ConnLimitExempt == nil || !s.opt.ConnLimitExempt(s.info.Addr)) {
		n, _ := s.srv.conns.Opened(s.info.Addr, 0)
		defer s.srv.conns.Closed(s.info.Addr)
		if n > s.opt.ConnLimit {
			s.log.Warning("Connection concurrency limit exceeded: %d from %s for service %s", n, s.client, s.service())
			s.reply(421, "4.7.0", s.opt.Hostname+" Error: too many connections from "+addr)
			s.w.Flush()
			return
		}
	}
	s.run()
	s.w.Flush()
}

func (s *session) service() string {
	if s.opt.LMTP {
		return "lmtp"
	}
	return "smtp"
}

// recoverPanic turns a panic in this session (a policy, the submitter)
// into a log entry with the stack and a 421 to the client; other sessions
// carry on.
func (s *session) recoverPanic() {
	v := recover()
	if v == nil {
		return
	}
	stack := debug.Stack()
	if p, ok := v.(submitPanic); ok {
		v, stack = p.value, p.stack
	}
	s.srv.Log.Error("smtpd: panic in session", "client", s.client, "panic", fmt.Sprint(v), "stack", string(stack))
	s.log.Warning("%s: internal error after %s: %v", s.client, s.where, v)
	s.reason = ""
	// The client may be mid-reply; a fresh reply line is the best we can do.
	s.w.Reset(connIO{s})
	s.reply(421, "4.3.0", s.opt.Hostname+" Server local error")
	s.w.Flush()
}

// logReason logs why a session ended abnormally, as Postfix does:
// "lost connection after RCPT from ...", "timeout after DATA (1234 bytes)
// from ...". A client that hangs up right after a message is not news.
func (s *session) logReason() {
	switch {
	case s.reason == "":
	case s.where == "DATA" || s.where == "BDAT":
		s.log.Printf("%s after %s (%d bytes) from %s", s.reason, s.where, s.lostBytes, s.client)
	case s.where != "END-OF-MESSAGE" || s.reason != "lost connection":
		s.log.Printf("%s after %s from %s", s.reason, s.where, s.client)
	}
}

func (s *session) run() {
	if r := s.srv.Policy.CheckConnect(s.ctx, &s.info); r != nil {
		s.replyR(r)
		s.log.Reject("", "CONNECT", s.client, r.String(), "", "", s.info.Protocol, "")
		if r.Code == 421 || r.Code == 521 {
			return
		}
		s.denied = r
		s.errors++
	} else {
		// Input that arrived before the greeting is improper pipelining
		// (Postfix logs it "after CONNECT").
		s.checkPipelining("CONNECT", true)
		s.reply(220, "", s.opt.Banner)
	}
	for !s.quit {
		if s.opt.HardErrorLimit > 0 && s.errors >= s.opt.HardErrorLimit {
			s.reason = "too many errors"
			s.reply(421, "4.7.0", s.opt.Hostname+" Error: too many errors")
			return
		}
		s.idle.Store(true)
		line, bareLF, err := readLine(s.r, s.opt.lineLimit())
		s.idle.Store(false)
		switch {
		case err == errLineTooLong:
			// Postfix truncates the line and runs what is left; running a
			// cut-off RCPT or MAIL could act on an address the client never
			// sent, so the whole line is refused instead.
			s.log.Warning("%s: request longer than %d", s.client, s.opt.lineLimit())
			s.reply(500, "5.5.2", "Error: line too long")
			s.errors++
			continue
		case err != nil:
			s.ioFailed(err)
			return
		case bareLF && s.opt.BareNewline == BareNewlineReject:
			s.bareLFReject()
			return
		}
		if s.opt.SMTPUTF8 && !utf8.Valid(line) {
			s.reply(500, "5.5.2", "Error: bad UTF-8 syntax")
			s.errors++
			continue
		}
		cmd, err := ParseCommand(line)
		if err != nil {
			s.reply(500, "5.5.2", "Error: bad syntax")
			s.errors++
			continue
		}
		s.checkPipelining(cmd.Verb, false)
		if s.dispatch(cmd) {
			return
		}
	}
}

// ioFailed ends the session after a read or write error.
func (s *session) ioFailed(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, errShuttingDown) || s.srv.conns.Closing() && errors.As(err, &ne) && ne.Timeout():
		s.reply(421, "4.3.2", s.opt.Hostname+" Service shutting down")
	case errors.As(err, &ne) && ne.Timeout():
		s.reason = "timeout"
		s.reply(421, "4.4.2", s.opt.Hostname+" Error: timeout exceeded")
	default:
		s.reason = "lost connection"
	}
}

func (s *session) bareLFReject() {
	s.log.Printf("warning: %s: bare <LF> received after %s", s.client, s.where)
	s.reply(521, "5.5.2", s.opt.Hostname+" Error: bare <LF> received")
}

// reply queues a reply; connIO sends it before the next read.
func (s *session) reply(code int, dsn, text string) {
	s.replyR(&Reply{Code: code, DSN: dsn, Text: text})
}

func (s *session) replyR(r *Reply) {
	// smtpd_soft_error_limit: slow down a client that keeps making errors.
	if r.Code >= 400 && s.opt.SoftErrorLimit > 0 && s.errors >= s.opt.SoftErrorLimit && s.opt.ErrorSleep > 0 {
		s.w.Flush()
		t := time.NewTimer(s.opt.ErrorSleep)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
		}
	}
	writeReply(s.w, r)
}

// fail sends an error reply for a refused command.
func (s *session) fail(code int, dsn, text string) error {
	s.reply(code, dsn, text)
	return errFail
}

// reject relays a policy decision and logs it the Postfix way.
func (s *session) reject(stage string, r *Reply, rcpt string) error {
	s.replyR(r)
	sender := ""
	if s.txn != nil {
		sender = s.txn.sender
	}
	s.log.Reject("", stage, s.client, r.String(), sender, rcpt, s.info.Protocol, s.info.Helo)
	if r.Code == 421 || r.Code == 521 {
		return errHangup
	}
	return errFail
}

// resetTxn forgets the mail transaction (RSET, HELO, STARTTLS, end).
func (s *session) resetTxn() {
	if s.txn != nil && s.txn.bdat != nil {
		s.txn.bdat.abort()
	}
	s.txn = nil
	s.info.InMail = false
	s.info.Sender = ""
	s.info.Recipients = nil
	s.info.Size = 0
	s.info.Actions = Actions{}
}

// withProtocol is the protocol for the Received header: ESMTP, ESMTPS,
// ESMTPA, ESMTPSA (RFC 3848).
func (s *session) withProtocol() string {
	p := s.info.Protocol
	if p == "SMTP" {
		return p
	}
	if s.tlsState != nil {
		p += "S"
	}
	if s.info.SASLUser != "" {
		p += "A"
	}
	return p
}

type handler struct {
	stat   string
	fn     func(*session, string) error
	junk   bool // smtpd_junk_command_limit applies
	preTLS bool // allowed before STARTTLS when TLS is required
}

// commands is the command table (never written).
var commands = map[string]handler{
	"HELO":     {"helo", (*session).cmdHelo, true, true},
	"EHLO":     {"ehlo", (*session).cmdEhlo, true, true},
	"LHLO":     {"lhlo", (*session).cmdLhlo, true, true},
	"STARTTLS": {"starttls", (*session).cmdStarttls, false, true},
	"AUTH":     {"auth", (*session).cmdAuth, false, false},
	"MAIL":     {"mail", (*session).cmdMail, false, false},
	"RCPT":     {"rcpt", (*session).cmdRcpt, false, false},
	"DATA":     {"data", (*session).cmdData, false, false},
	"BDAT":     {"bdat", (*session).cmdBdat, false, false},
	"RSET":     {"rset", (*session).cmdRset, true, false},
	"NOOP":     {"noop", (*session).cmdNoop, true, true},
	"VRFY":     {"vrfy", (*session).cmdVrfy, true, false},
	"HELP":     {"help", (*session).cmdHelp, true, true},
	"QUIT":     {"quit", (*session).cmdQuit, false, true},
}

// dispatch runs one command and tells whether the session ends.
func (s *session) dispatch(cmd Command) bool {
	h, ok := commands[cmd.Verb]
	isHelo := cmd.Verb == "HELO" || cmd.Verb == "EHLO"
	if ok && (s.opt.LMTP && isHelo || !s.opt.LMTP && cmd.Verb == "LHLO") {
		ok = false
	}
	if !ok {
		s.where = "UNKNOWN"
		s.stats.count("unknown", false)
		if forbiddenCommand(cmd.Verb) {
			// Postfix's smtpd_forbid_cmds: an HTTP request or a message
			// header sent as a command is not a mail client.
			s.log.Warning("non-SMTP command from %s: %.100s", s.client, cmd.Verb+" "+cmd.Arg)
			s.reply(221, "2.7.0", "Error: I can break rules, too. Goodbye.")
			return true
		}
		if s.denied != nil {
			s.reply(503, "5.7.0", "Error: access denied for "+s.client)
		} else {
			s.reply(502, "5.5.2", "Error: command not recognized")
		}
		s.errors++
		return false
	}
	if s.denied != nil && cmd.Verb != "QUIT" {
		s.stats.count(h.stat, false)
		s.reply(503, "5.7.0", "Error: access denied for "+s.client)
		s.errors++
		return false
	}
	if s.opt.RequireTLS && s.tlsState == nil && !h.preTLS {
		s.stats.count(h.stat, false)
		s.reply(530, "5.7.0", "Must issue a STARTTLS command first")
		s.errors++
		return false
	}
	s.where = cmd.Verb
	err := h.fn(s, cmd.Arg)
	s.stats.count(h.stat, err == nil)
	switch {
	case err == nil:
	case errors.Is(err, errFail):
		s.errors++
	case errors.Is(err, errHangup):
		return true
	default:
		s.ioFailed(err)
		return true
	}
	if h.junk && s.opt.JunkCommandLimit > 0 {
		if s.junk++; s.junk > s.opt.JunkCommandLimit {
			s.errors++
		}
	}
	return s.quit
}

// forbiddenCommand is Postfix's default smtpd_forbid_cmds ("CONNECT GET
// POST" and anything not starting with a letter) plus its header test
// ("Subject:" sent as a command).
func forbiddenCommand(verb string) bool {
	switch verb {
	case "CONNECT", "GET", "POST":
		return true
	}
	if c := verb[0]; !('A' <= c && c <= 'Z') {
		return true
	}
	return strings.HasSuffix(verb, ":")
}
