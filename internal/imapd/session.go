package imapd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"mailhorn/internal/auth"
	"mailhorn/internal/store"
)

type state int

const (
	stateNotAuth state = iota
	stateAuth
	stateSelected
	stateLogout
)

// Outcomes of a command handler besides nil (tagged OK) and I/O errors.
var (
	errHangup       = errors.New("session ended")        // BYE sent; close
	errShuttingDown = errors.New("server shutting down") // from connIO while waiting
)

// respError is a tagged NO or BAD with an optional response code.
type respError struct{ status, code, text string }

func (e *respError) Error() string { return e.status + " " + e.text }

func no(code, text string) error { return &respError{"NO", code, text} }
func bad(text string) error      { return &respError{"BAD", "", text} }

// session is one client connection.
type session struct {
	srv  *Server
	opt  *Options
	raw  net.Conn
	conn net.Conn // raw, or TLS on top of it
	r    *bufio.Reader
	w    *bufio.Writer
	cr   cmdReader
	ctx  context.Context

	addr, laddr netip.Addr
	tls         bool
	state       state

	rev2, condstore, qresync, utf8 bool

	authUser    *auth.User
	loginMethod string
	failures    int
	lastUser    string // the login name last tried, for the log
	user        *store.User
	mbox        *store.Mailbox
	readOnly    bool
	saved       []uint32 // SEARCHRES "$": UIDs

	in, out atomic.Int64
	waiting atomic.Bool // waiting for a command or in IDLE: Shutdown may wake it
	noFlush atomic.Bool // IDLE: a goroutine reads while the session writes
	buf     []byte      // response scratch
	hdrBuf  []byte      // a message's header block (SEARCH, FETCH ENVELOPE)
	byeSent bool
}

func newSession(srv *Server, c net.Conn) *session {
	s := &session{srv: srv, opt: &srv.Opts, raw: c, conn: c}
	s.setIO()
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		s.addr = ap.Addr().Unmap()
	}
	if ap, err := netip.ParseAddrPort(c.LocalAddr().String()); err == nil {
		s.laddr = ap.Addr().Unmap()
	}
	return s
}

// setIO (re)creates the buffered reader and writer: after STARTTLS the old
// reader, and whatever the client pipelined into it, is dropped.
func (s *session) setIO() {
	s.r = bufio.NewReaderSize(connIO{s}, 16<<10)
	s.w = bufio.NewWriterSize(connIO{s}, 64<<10)
	s.cr = cmdReader{
		r:         s.r,
		lineLimit: s.opt.LineLimit,
		litLimit:  s.literalLimit,
		cont: func() error {
			s.w.WriteString("+ Ready for literal data\r\n")
			return s.w.Flush()
		},
	}
}

// literalLimit is the literal budget of a command, from its first line.
func (s *session) literalLimit(first []byte) (int64, string) {
	f := bytes.Fields(first)
	name := ""
	if len(f) >= 2 {
		name = strings.ToUpper(string(f[1]))
	}
	if s.state == stateNotAuth {
		switch name {
		case "LOGIN", "AUTHENTICATE", "ID":
			return SmallLiteralLimit, ""
		}
		return SmallLiteralLimit, "Please log in first."
	}
	if name == "APPEND" {
		if s.opt.LiteralLimit <= 0 {
			return 1 << 40, ""
		}
		return s.opt.LiteralLimit, ""
	}
	return SmallLiteralLimit, ""
}

// connIO is the session's view of its connection: reads flush pending
// responses first and restart the autologout timer; bytes are counted.
type connIO struct{ s *session }

func (c connIO) Read(p []byte) (int, error) {
	s := c.s
	if !s.noFlush.Load() {
		if err := s.w.Flush(); err != nil {
			return 0, err
		}
	}
	if s.waiting.Load() && s.srv.shuttingDown() {
		return 0, errShuttingDown
	}
	if s.opt.Timeout > 0 {
		s.conn.SetReadDeadline(time.Now().Add(s.opt.Timeout))
	}
	n, err := s.conn.Read(p)
	s.in.Add(int64(n))
	return n, err
}

func (c connIO) Write(p []byte) (int, error) {
	s := c.s
	if s.opt.Timeout > 0 {
		s.conn.SetWriteDeadline(time.Now().Add(s.opt.Timeout))
	}
	n, err := s.conn.Write(p)
	s.out.Add(int64(n))
	return n, err
}

func (s *session) serve(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.ctx = ctx
	defer func() {
		if r := recover(); r != nil {
			s.srv.Log.Error("imapd: panic in session", "client", s.addr, "panic", r, "stack", string(debug.Stack()))
		}
		s.cleanup()
	}()
	if !s.srv.connOpened(s.addr) {
		s.w.WriteString("* BYE Too many connections from your IP address.\r\n")
		s.w.Flush()
		s.srv.MailLog.Printf("Disconnected: Connection limit reached (client %s)", s.addr)
		return
	}
	defer s.srv.connClosed(s.addr)
	if s.opt.WrapperMode {
		if s.opt.TLS == nil {
			s.srv.Log.Error("imapd: wrapper mode without a TLS certificate")
			return
		}
		if err := s.handshake(); err != nil {
			s.srv.MailLog.Printf("Disconnected: TLS handshaking: %v (rip=%s)", err, s.addr)
			return
		}
	}
	s.buf = append(s.buf[:0], "* OK ["...)
	s.buf = s.appendCapabilities(s.buf)
	s.buf = append(s.buf, "] "...)
	s.buf = append(s.buf, s.opt.Hostname...)
	s.buf = append(s.buf, " mailhorn IMAP ready.\r\n"...)
	s.w.Write(s.buf)
	for s.state != stateLogout {
		if err := s.command(); err != nil {
			s.endWith(err)
			return
		}
	}
	s.w.Flush()
}

// endWith says goodbye for a read or handler error.
func (s *session) endWith(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, errHangup):
	case errors.Is(err, errShuttingDown) || s.srv.shuttingDown() && errors.As(err, &ne) && ne.Timeout():
		s.bye("Server shutting down.")
	case errors.As(err, &ne) && ne.Timeout():
		s.bye("Disconnected for inactivity.")
		s.logDisconnect("Inactivity")
	case errors.Is(err, errLineTooLong):
		s.bye("Too long argument.")
	case errors.Is(err, errLiteralTooBig):
		s.bye("[TOOBIG] Literal too big.")
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrDeadlineExceeded):
		s.logDisconnect("Connection closed")
	default:
		s.logDisconnect("Connection closed: " + err.Error())
	}
	s.w.Flush()
}

func (s *session) bye(text string) {
	if s.byeSent {
		return
	}
	s.byeSent = true
	s.w.WriteString("* BYE " + text + "\r\n")
}

func (s *session) logDisconnect(reason string) {
	if s.authUser != nil {
		s.srv.MailLog.Printf("Disconnected: %s in=%d out=%d", reason, s.in.Load(), s.out.Load())
		s.authUser = nil // logged once
		return
	}
	if s.state == stateNotAuth && s.failures > 0 {
		s.srv.MailLog.Printf("Aborted login (auth failed, %d attempts): user=<%s>, method=%s, rip=%s", s.failures, s.lastUser, s.loginMethod, s.addr)
		s.failures = 0
	}
}

func (s *session) cleanup() {
	if s.mbox != nil {
		s.mbox.Close()
		s.mbox = nil
	}
	if s.user != nil {
		s.user.Close()
		s.user = nil
	}
	s.logDisconnect("Connection closed")
}

func (s *session) handshake() error {
	tc := tls.Server(s.raw, s.opt.TLS)
	hctx, cancel := context.WithTimeout(s.ctx, time.Minute)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return err
	}
	s.conn = tc
	s.tls = true
	s.setIO()
	return nil
}

// cmd is one command being executed.
type cmd struct {
	tag, name string
	uid       bool
	p         *parser
	okCode    string // response code of the tagged OK
	okText    string // "" = "<NAME> completed."
}

type handler struct {
	fn     func(s *session, c *cmd) error
	states []state
	// expungeOK: untagged EXPUNGE may follow (not FETCH, STORE, SEARCH
	// by sequence number, RFC 9051 §7.5.1).
	seqCmd bool
}

var (
	any3     = []state{stateNotAuth, stateAuth, stateSelected}
	authed   = []state{stateAuth, stateSelected}
	selected = []state{stateSelected}
	notAuth  = []state{stateNotAuth}
)

// commands is the command table; UID commands are "UID FETCH"...
var commands = map[string]handler{
	"CAPABILITY":   {fn: (*session).cmdCapability, states: any3},
	"NOOP":         {fn: (*session).cmdNoop, states: any3},
	"LOGOUT":       {fn: (*session).cmdLogout, states: any3},
	"ID":           {fn: (*session).cmdID, states: any3},
	"STARTTLS":     {fn: (*session).cmdStartTLS, states: notAuth},
	"LOGIN":        {fn: (*session).cmdLogin, states: notAuth},
	"AUTHENTICATE": {fn: (*session).cmdAuthenticate, states: notAuth},
	"ENABLE":       {fn: (*session).cmdEnable, states: authed},
	"NAMESPACE":    {fn: (*session).cmdNamespace, states: authed},
	"LIST":         {fn: (*session).cmdList, states: authed},
	"LSUB":         {fn: (*session).cmdLsub, states: authed},
	"CREATE":       {fn: (*session).cmdCreate, states: authed},
	"DELETE":       {fn: (*session).cmdDelete, states: authed},
	"RENAME":       {fn: (*session).cmdRename, states: authed},
	"SUBSCRIBE":    {fn: (*session).cmdSubscribe, states: authed},
	"UNSUBSCRIBE":  {fn: (*session).cmdUnsubscribe, states: authed},
	"STATUS":       {fn: (*session).cmdStatus, states: authed},
	"SELECT":       {fn: (*session).cmdSelect, states: authed},
	"EXAMINE":      {fn: (*session).cmdSelect, states: authed},
	"APPEND":       {fn: (*session).cmdAppend, states: authed},
	"IDLE":         {fn: (*session).cmdIdle, states: authed},
	"GETQUOTA":     {fn: (*session).cmdGetQuota, states: authed},
	"GETQUOTAROOT": {fn: (*session).cmdGetQuotaRoot, states: authed},
	"SETQUOTA":     {fn: (*session).cmdSetQuota, states: authed},
	"CHECK":        {fn: (*session).cmdNoop, states: selected},
	"CLOSE":        {fn: (*session).cmdClose, states: selected},
	"UNSELECT":     {fn: (*session).cmdClose, states: selected},
	"EXPUNGE":      {fn: (*session).cmdExpunge, states: selected},
	"SEARCH":       {fn: (*session).cmdSearch, states: selected, seqCmd: true},
	"SORT":         {fn: (*session).cmdSort, states: selected, seqCmd: true},
	"FETCH":        {fn: (*session).cmdFetch, states: selected, seqCmd: true},
	"STORE":        {fn: (*session).cmdStore, states: selected, seqCmd: true},
	"COPY":         {fn: (*session).cmdCopy, states: selected},
	"MOVE":         {fn: (*session).cmdMove, states: selected},
}

// uidCommands may follow UID.
var uidCommands = map[string]bool{"FETCH": true, "STORE": true, "SEARCH": true, "SORT": true, "COPY": true, "MOVE": true, "EXPUNGE": true}

func isTagChar(c byte) bool { return isAtomChar(c) && c != '+' || c == ']' }

// command reads and runs one command.
func (s *session) command() error {
	s.waiting.Store(true)
	rc, err := s.cr.readCommand()
	s.waiting.Store(false)
	var tb *tooBig
	if errors.As(err, &tb) {
		if tb.refused != "" {
			s.w.WriteString(sanitizeTag(tb.tag) + " BAD " + tb.refused + "\r\n")
		} else {
			s.w.WriteString(sanitizeTag(tb.tag) + " NO [TOOBIG] Literal too big.\r\n")
		}
		return nil
	}
	if err != nil {
		return err
	}
	p := newParser(rc)
	start := p.pos
	for p.pos < len(p.line) && isTagChar(p.line[p.pos]) {
		p.pos++
	}
	tag := string(p.line[start:p.pos])
	if tag == "" || !p.trySP() {
		if len(rc.lines) == 1 && len(rc.lines[0]) == 0 {
			return nil // an empty line: ignored, as Dovecot does
		}
		s.w.WriteString("* BAD Error in IMAP command received by server.\r\n")
		return s.tooManyErrors()
	}
	name, err := p.atom()
	if err != nil {
		return s.finish(&cmd{tag: tag}, bad("Error in IMAP command: missing command name."))
	}
	c := &cmd{tag: tag, name: strings.ToUpper(name), p: p}
	if c.name == "UID" {
		if p.sp() != nil {
			return s.finish(c, bad("Error in IMAP command UID: missing command."))
		}
		sub, err := p.atom()
		sub = strings.ToUpper(sub)
		if err != nil || !uidCommands[sub] {
			return s.finish(c, bad("Error in IMAP command UID: unknown command."))
		}
		c.name, c.uid = sub, true
	}
	h, ok := commands[c.name]
	if !ok {
		return s.finish(c, bad("Unknown command."))
	}
	if !containsState(h.states, s.state) {
		switch s.state {
		case stateNotAuth:
			return s.finish(c, bad("Please log in first."))
		case stateAuth:
			return s.finish(c, bad("No mailbox selected."))
		default:
			return s.finish(c, bad("Command not valid in this state."))
		}
	}
	err = h.fn(s, c)
	if s.state == stateSelected && (!h.seqCmd || c.uid) && !errors.Is(err, errHangup) && s.mbox != nil {
		if uerr := s.sendUpdates(true); uerr != nil && err == nil {
			err = uerr
		}
	}
	return s.finish(c, err)
}

func containsState(list []state, st state) bool {
	for _, x := range list {
		if x == st {
			return true
		}
	}
	return false
}

func sanitizeTag(t string) string {
	for i := 0; i < len(t); i++ {
		if !isTagChar(t[i]) {
			return "*"
		}
	}
	if t == "" {
		return "*"
	}
	return t
}

// tooManyErrors is kept simple: an untagged BAD costs the client nothing
// but is counted by the autologout timer only.
func (s *session) tooManyErrors() error { return nil }

// finish writes the tagged response for a handler's result.
func (s *session) finish(c *cmd, err error) error {
	var se *syntaxError
	var re *respError
	switch {
	case errors.Is(err, errTaggedSent):
		return nil
	case err == nil:
		s.buf = append(s.buf[:0], c.tag...)
		s.buf = append(s.buf, " OK "...)
		if c.okCode != "" {
			s.buf = append(s.buf, '[')
			s.buf = append(s.buf, c.okCode...)
			s.buf = append(s.buf, "] "...)
		}
		if c.okText != "" {
			s.buf = append(s.buf, c.okText...)
		} else {
			if c.uid {
				s.buf = append(s.buf, "UID "...)
			}
			s.buf = append(s.buf, c.name...)
			s.buf = append(s.buf, " completed."...)
		}
		s.buf = append(s.buf, "\r\n"...)
		_, err := s.w.Write(s.buf)
		return err
	case errors.As(err, &se):
		name := c.name
		if name == "" {
			name = "command"
		}
		_, err := fmt.Fprintf(s.w, "%s BAD Error in IMAP command %s: %s.\r\n", c.tag, name, strings.TrimSuffix(se.msg, "."))
		return err
	case errors.As(err, &re):
		s.buf = append(s.buf[:0], c.tag...)
		s.buf = append(s.buf, ' ')
		s.buf = append(s.buf, re.status...)
		s.buf = append(s.buf, ' ')
		if re.code != "" {
			s.buf = append(s.buf, '[')
			s.buf = append(s.buf, re.code...)
			s.buf = append(s.buf, "] "...)
		}
		s.buf = append(s.buf, re.text...)
		s.buf = append(s.buf, "\r\n"...)
		_, err := s.w.Write(s.buf)
		return err
	case errors.Is(err, context.Canceled):
		s.bye("Server shutting down.")
		return errHangup
	default:
		return err
	}
}

// storeError maps a store error to a tagged NO.
func (s *session) storeError(what string, err error) error {
	switch {
	case errors.Is(err, store.ErrNoMailbox):
		return no("NONEXISTENT", "Mailbox doesn't exist.")
	case errors.Is(err, store.ErrExists):
		return no("ALREADYEXISTS", "Mailbox already exists.")
	case errors.Is(err, store.ErrBadName):
		return no("CANNOT", "Invalid mailbox name.")
	case errors.Is(err, store.ErrOverQuota):
		return no("OVERQUOTA", "Quota exceeded (mailbox for user is full).")
	case errors.Is(err, store.ErrInboxOnly):
		return no("CANNOT", "Operation not allowed on INBOX.")
	case errors.Is(err, store.ErrHasChildren):
		return no("INUSE", "Mailbox has children, delete them first.")
	case errors.Is(err, store.ErrNoMessage):
		return no("EXPUNGEISSUEDBYOTHER", "Some of the requested messages no longer exist.")
	case errors.Is(err, context.Canceled):
		return err
	}
	s.srv.Log.Error("imapd: store error", "op", what, "user", s.userName(), "err", err)
	return no("SERVERBUG", "Internal error occurred. Refer to server log for more information.")
}

func (s *session) userName() string {
	if s.authUser != nil {
		return s.authUser.Name
	}
	return ""
}

// writeLine writes an untagged or continuation line already formatted.
func (s *session) writeBuf() error {
	_, err := s.w.Write(s.buf)
	return err
}

// appendMailbox appends a mailbox name as the client reads them.
func (s *session) appendMailbox(b []byte, name string) []byte {
	if s.utf8 {
		return appendUTF8String(b, name)
	}
	return appendString(b, encodeMUTF7(name))
}

// spMailbox reads " mailbox": the space, then mailboxArg.
func (s *session) spMailbox(p *parser) (string, error) {
	if err := p.sp(); err != nil {
		return "", err
	}
	return s.mailboxArg(p)
}

// mailboxArg reads a mailbox name argument and checks it.
func (s *session) mailboxArg(p *parser) (string, error) {
	raw, err := p.astring()
	if err != nil {
		return "", err
	}
	return s.mailboxName(raw)
}

func (s *session) mailboxName(raw string) (string, error) {
	name := raw
	if !s.utf8 {
		var err error
		if name, err = decodeMUTF7(raw); err != nil {
			return "", no("CANNOT", "Invalid modified UTF-7 mailbox name.")
		}
	}
	return checkMailboxName(name)
}

// checkMailboxName normalises INBOX and refuses names that could escape
// the user's tree or that the Maildir++ layout cannot hold.
func checkMailboxName(name string) (string, error) {
	name = strings.TrimSuffix(name, string(store.Delimiter))
	if strings.EqualFold(name, "INBOX") {
		return "INBOX", nil
	}
	if first, rest, ok := strings.Cut(name, string(store.Delimiter)); ok && strings.EqualFold(first, "INBOX") {
		name = "INBOX" + string(store.Delimiter) + rest
	}
	if name == "" || len(name) > 1000 {
		return "", no("CANNOT", "Invalid mailbox name.")
	}
	for comp := range strings.SplitSeq(name, string(store.Delimiter)) {
		if comp == "" || comp == "." || comp == ".." || strings.HasPrefix(comp, ".") || strings.HasPrefix(comp, "~") {
			return "", no("CANNOT", "Invalid mailbox name.")
		}
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '\\' || r == '*' || r == '%' || r == 0xfffd {
			return "", no("CANNOT", "Invalid mailbox name.")
		}
	}
	return name, nil
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
