package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"mailhorn/internal/address"
	"mailhorn/internal/cleanup"
	"mailhorn/internal/config"
	"mailhorn/internal/maildrop"
	"mailhorn/internal/pickup"
	"mailhorn/internal/queue"
	"mailhorn/internal/smtpd"
)

// exTempfail is the exit status of every sendmail error: Postfix's
// sendmail exits with EX_TEMPFAIL (75) after any fatal error, whatever
// status it names, because its clean-up handler exits first.
const exTempfail = 75

// Modes of operation, as Postfix's sendmail has them.
type smMode int

const (
	smEnqueue  smMode = iota // read a message and submit it (-bm, the default)
	smNewalias               // -bi, -I: newaliases
	smMailq                  // -bp: mailq
	smDaemon                 // -bd: start the mail system
	smUser                   // -bs: SMTP on stdin and stdout
	smFlush                  // -q: flush the queue
	smIgnore                 // -bh, -bH: nothing to do
	smVerify                 // -bv: not supported
)

// sendmailArgs is a parsed sendmail command line.
type sendmailArgs struct {
	mode        smMode
	extract     bool // -t
	dotEnds     bool // a line with a single "." ends the input (no -i, -oi)
	sender      string
	senderGiven bool // -f or -r
	fullName    string
	fullGiven   bool   // -F
	notify      byte   // -N, as queue.Notify* bits; 0 when not given
	envid       string // -V
	body        string // -B
	remote      bool   // -G
	configDir   string // -C or -c
	aliasDB     string // -oA
	site, id    string // -qR, -qI
	qtime       bool   // -q with an interval: ignored outside daemon mode
	verbose     int
	recipients  []string
	warnings    []string
}

// optArgs are the option letters that take an argument (Postfix's getopt
// list "A:B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:r:q:tvx", with -c taking
// the configuration directory as every mailhorn command does).
const optArgs = "ABCFLNORVXbcefhopqr"
const optFlags = "GIUimntvx"

// parseSendmailArgs reads the command line as Postfix's sendmail does:
// getopt that stops at the first non-option, plus "-q" alone and the old
// "-V xy" / "-Vxy" VERP forms. Errors are the messages Postfix prints.
func parseSendmailArgs(args []string) (*sendmailArgs, error) {
	a := &sendmailArgs{mode: smEnqueue, dotEnds: true}
	i := 0
	for i < len(args) {
		arg := args[i]
		if arg == "--" {
			i++
			break
		}
		if len(arg) < 2 || arg[0] != '-' {
			break
		}
		switch {
		case arg == "-q":
			if a.mode == smDaemon {
				a.warnings = append(a.warnings, "ignoring -q option in daemon mode")
			} else {
				a.mode = smFlush
			}
			i++
			continue
		case arg == "-V" && i+1 < len(args) && len(args[i+1]) == 2, len(arg) == 4 && strings.HasPrefix(arg, "-V"), arg == "-XV":
			return nil, errors.New("unsupported: -XV (VERP is not implemented)")
		}
		i++
		for j := 1; j < len(arg); j++ {
			c := arg[j]
			switch {
			case strings.IndexByte(optFlags, c) >= 0:
				if err := a.flag(c); err != nil {
					return nil, err
				}
			case strings.IndexByte(optArgs, c) >= 0:
				val := arg[j+1:]
				if val == "" {
					if i >= len(args) {
						return nil, fmt.Errorf("option requires an argument -- '%c'", c)
					}
					val = args[i]
					i++
				}
				if err := a.option(c, val); err != nil {
					return nil, err
				}
				j = len(arg)
			default:
				return nil, fmt.Errorf("invalid option -- '%c'", c)
			}
		}
	}
	a.recipients = args[i:]
	switch {
	case a.extract && a.mode != smEnqueue:
		return nil, errors.New("-t can be used only in delivery mode")
	case a.site != "" && a.mode != smEnqueue:
		return nil, errors.New("-qR can be used only in delivery mode")
	case a.id != "" && a.mode != smEnqueue:
		return nil, errors.New("-qI can be used only in delivery mode")
	}
	return a, nil
}

func (a *sendmailArgs) flag(c byte) error {
	switch c {
	case 'n':
		return errors.New("-n option not supported")
	case 'G':
		a.remote = true
	case 'I':
		a.mode = smNewalias
	case 'i':
		a.dotEnds = false
	case 't':
		a.extract = true
	case 'v':
		a.verbose++
	}
	return nil // U, m, x: ignored
}

func (a *sendmailArgs) option(c byte, v string) error {
	first := byte(0) // the letter after -b, -o, -q, -X; none for an empty argument
	if v != "" {
		first = v[0]
	}
	letter := strings.TrimRight(string(first), "\x00")
	switch c {
	case 'B':
		if v != "8BITMIME" && v != "7BIT" {
			return errors.New("-B option needs 8BITMIME or 7BIT")
		}
		a.body = v
	case 'C', 'c':
		if filepath.Base(v) == "main.cf" {
			v = filepath.Dir(v)
		}
		a.configDir = v
	case 'F':
		a.fullName, a.fullGiven = v, true
	case 'N':
		n, err := parseNotify(v)
		if err != nil {
			a.warnings = append(a.warnings, err.Error(), "bad -N option value -- ignored")
		} else {
			a.notify = n
		}
	case 'V':
		switch {
		case len(v) > maildrop.MaxEnvID:
			a.warnings = append(a.warnings, "too long -V option value -- ignored")
		case !printable(v):
			a.warnings = append(a.warnings, "bad syntax in -V option value -- ignored")
		default:
			a.envid = v
		}
	case 'X':
		if first == 'V' {
			return errors.New("unsupported: -XV (VERP is not implemented)")
		}
		return fmt.Errorf("unsupported: -X%s", letter)
	case 'b':
		switch first {
		case 'd':
			if a.mode == smFlush {
				a.warnings = append(a.warnings, "ignoring -q option in daemon mode")
			}
			a.mode = smDaemon
		case 'h', 'H':
			a.mode = smIgnore
		case 'i':
			a.mode = smNewalias
		case 'm':
			a.mode = smEnqueue
		case 'p':
			a.mode = smMailq
		case 's':
			a.mode = smUser
		case 'v':
			a.mode = smVerify
		default:
			return fmt.Errorf("unsupported: -b%s", letter)
		}
	case 'f', 'r':
		a.sender, a.senderGiven = v, true
	case 'o':
		switch first {
		case 'A':
			if len(v) == 1 {
				return errors.New("-oA requires pathname")
			}
			a.aliasDB = v[1:]
		case 'i':
			a.dotEnds = false
		}
	case 'q':
		switch {
		case first >= '0' && first <= '9':
			a.qtime = true
		case first == 'R':
			if a.site = v[1:]; a.site == "" {
				return errors.New("specify: -qRsitename")
			}
		case first == 'I':
			if a.id = v[1:]; a.id == "" {
				return errors.New("specify: -qIqueueid")
			}
		default:
			return fmt.Errorf("-q%s is not implemented", letter)
		}
	}
	return nil // A, L, O, R, e, h, p: ignored
}

// parseNotify reads a -N value: "never", or a comma-separated list of
// success, delay and failure (Postfix's dsn_notify_mask).
func parseNotify(v string) (byte, error) {
	var n byte
	for _, w := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		switch strings.ToLower(w) {
		case "never":
			n |= queue.NotifyNever
		case "success":
			n |= queue.NotifySuccess
		case "delay":
			n |= queue.NotifyDelay
		case "failure":
			n |= queue.NotifyFailure
		default:
			return 0, fmt.Errorf("unknown DSN NOTIFY command value %q in %q", w, v)
		}
	}
	if n == 0 || n&queue.NotifyNever != 0 && n != queue.NotifyNever {
		return 0, fmt.Errorf("bad DSN NOTIFY value %q", v)
	}
	return n, nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// runSendmail is sendmail(1), also the multi-call name "sendmail".
func runSendmail(ctx context.Context, e *env, args []string) int {
	const prog = "sendmail"
	fatal := func(format string, v ...any) int {
		fmt.Fprintf(e.stderr, prog+": fatal: "+format+"\n", v...)
		return exTempfail
	}
	a, err := parseSendmailArgs(args)
	if err != nil {
		return fatal("%v", err)
	}
	for _, w := range a.warnings {
		fmt.Fprintf(e.stderr, "%s: warning: %s\n", prog, w)
	}
	if a.qtime && a.mode != smDaemon {
		return 0
	}
	dir := config.Dir(a.configDir, e.getenv)
	noRecipients := func(what string) bool { return len(a.recipients) > 0 && fatal("%s requires no recipient", what) != 0 }
	switch a.mode {
	case smMailq:
		if noRecipients("display queue mode") {
			return exTempfail
		}
		return runQueue(ctx, e, []string{"-c", dir, "-p"})
	case smFlush:
		if noRecipients("flush queue mode") {
			return exTempfail
		}
		return runQueue(ctx, e, []string{"-c", dir, "-f"})
	case smDaemon:
		if noRecipients("daemon mode") {
			return exTempfail
		}
		return runStart(ctx, e, []string{"-c", dir})
	case smNewalias:
		if noRecipients("alias initialization mode") {
			return exTempfail
		}
		if a.aliasDB != "" {
			return runAlias(ctx, e, append([]string{"-c", dir}, strings.FieldsFunc(a.aliasDB, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })...))
		}
		return runNewaliases(ctx, e, []string{"-c", dir})
	case smIgnore:
		return 0
	case smVerify:
		return fatal("-bv (address verification reports) is not supported")
	case smUser:
		if noRecipients("stand-alone mode") {
			return exTempfail
		}
		if err := serveStandalone(ctx, e, dir); err != nil {
			return fatal("%v", err)
		}
		return 0
	}
	if a.site != "" || a.id != "" {
		if len(a.recipients) > 0 {
			return fatal("flush %s requires no recipient", map[bool]string{true: "site", false: "queue_id"}[a.site != ""])
		}
		if a.site != "" {
			return runQueue(ctx, e, []string{"-c", dir, "-s", a.site})
		}
		return runQueue(ctx, e, []string{"-c", dir, "-i", a.id})
	}
	if err := enqueue(ctx, e, dir, a); err != nil {
		return fatal("%v", err)
	}
	return 0
}

// sendmailConfig is what sendmail needs of main.cf.
type sendmailConfig struct {
	qdir        string
	sizeLimit   int64
	headerLimit int
	cfg         *config.Config
}

func loadSendmailConfig(e *env, dir string) (*sendmailConfig, error) {
	cfg, err := config.Load(dir, func(w string) { fmt.Fprintf(e.stderr, "sendmail: warning: %s\n", w) })
	if err != nil {
		return nil, err
	}
	c := &sendmailConfig{cfg: cfg, qdir: cfg.Get("queue_directory"), sizeLimit: cfg.Size("message_size_limit"), headerLimit: 102400}
	if n, err := strconv.Atoi(strings.TrimSpace(cfg.Get("header_size_limit"))); err == nil && n > 0 {
		c.headerLimit = n
	}
	return c, nil
}

// enqueue reads the message on stdin and leaves it in maildrop/.
func enqueue(ctx context.Context, e *env, dir string, a *sendmailArgs) error {
	c, err := loadSendmailConfig(e, dir)
	if err != nil {
		return err
	}
	uid := os.Getuid()
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return fmt.Errorf("no login name found for user ID %d", uid)
	}
	env := &maildrop.Envelope{Remote: a.remote, EnvID: a.envid, Body: a.body}
	who := u.Username // for error messages, as Postfix's "sender(uid): ..."
	if a.senderGiven {
		var warn string
		env.Sender, warn = parseSender(a.sender)
		env.SenderGiven, who = true, env.Sender
		if warn != "" {
			fmt.Fprintf(e.stderr, "sendmail: warning: %s\n", warn)
		}
	}
	env.FullName = fullName(a, e.getenv, u)
	prefix := fmt.Sprintf("%s(%d): ", who, uid)
	for _, r := range a.recipients {
		addrs, err := parseRecipientArg(r)
		if err != nil {
			return errors.New(prefix + err.Error())
		}
		for _, addr := range addrs {
			env.Recipients = append(env.Recipients, cleanup.Recipient{Address: addr, Notify: a.notify})
		}
	}
	if len(env.Recipients) == 0 && !a.extract {
		return errors.New(prefix + "Recipient addresses must be specified on the command line or via the -t option")
	}
	w, err := maildrop.Create(filepath.Join(c.qdir, queue.Maildrop), env, c.sizeLimit, time.Now())
	if err != nil {
		return errors.New(prefix + err.Error())
	}
	var x *extractor
	if a.extract {
		x = &extractor{limit: c.headerLimit, inHeaders: true}
	}
	bufSize := max(64<<10, c.headerLimit+2)
	if err := copyMessage(ctx, bufio.NewReaderSize(e.stdin, bufSize), w.Content(), a.dotEnds, x); err != nil {
		w.Abort()
		if errors.Is(err, maildrop.ErrTooBig) {
			return errors.New(prefix + "message file too big")
		}
		return errors.New(prefix + err.Error())
	}
	if x != nil {
		for _, addr := range x.recipients() {
			w.AddRecipient(cleanup.Recipient{Address: addr, Notify: a.notify})
			env.Recipients = append(env.Recipients, cleanup.Recipient{Address: addr})
		}
		if len(env.Recipients) == 0 {
			w.Abort()
			return errors.New(prefix + "No recipient addresses found in message header")
		}
	}
	if _, err := w.Commit(); err != nil {
		if errors.Is(err, maildrop.ErrTooBig) {
			return errors.New(prefix + "message file too big")
		}
		return errors.New(prefix + err.Error())
	}
	pickup.Poke(c.qdir) // when nobody listens, the file waits for the next start
	return nil
}

// parseSender reads -f: the first address of an RFC 5322 address list in
// internal form; "" or "<>" is the null sender. warn is set when there
// was more than one address, as Postfix warns.
func parseSender(s string) (string, string) {
	if t := strings.TrimSpace(s); t == "" || t == "<>" {
		return "", ""
	}
	l, err := address.ParseList(s)
	if err != nil || len(l.Entries) == 0 {
		return strings.Trim(strings.TrimSpace(s), "<>"), ""
	}
	warn := ""
	if len(l.Entries) > 1 {
		warn = "-f option specified malformed sender: " + s
	}
	return l.Entries[0].Addr.Internal(), warn
}

// parseRecipientArg reads a command-line recipient as an RFC 5322 address
// list ("a@x, B <b@y>"), as Postfix does; an argument without any address
// is one empty recipient.
func parseRecipientArg(s string) ([]string, error) {
	l, err := address.ParseList(s)
	if err != nil {
		return nil, fmt.Errorf("bad recipient address syntax: %v", err)
	}
	var out []string
	for _, en := range l.Entries {
		out = append(out, en.Addr.Internal())
	}
	if len(out) == 0 {
		out = []string{""}
	}
	return out, nil
}

// fullName is -F, else $NAME, else the account's GECOS name (up to the
// first comma, "&" standing for the capitalised login name), as Postfix's
// fullname(). Control characters become spaces.
func fullName(a *sendmailArgs, getenv func(string) string, u *user.User) string {
	name := a.fullName
	if !a.fullGiven {
		if name = getenv("NAME"); name == "" {
			name, _, _ = strings.Cut(u.Name, ",")
			if strings.Contains(name, "&") && u.Username != "" {
				name = strings.ReplaceAll(name, "&", strings.ToUpper(u.Username[:1])+u.Username[1:])
			}
		}
	}
	name = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == unicode.ReplacementChar {
			return ' '
		}
		return r
	}, name)
	if len(name) > maildrop.MaxField {
		name = name[:maildrop.MaxField]
	}
	return strings.TrimSpace(name)
}

// copyMessage copies the message from in to out as Postfix's sendmail
// does: leading "From " (and ">From ") lines are dropped, line endings
// become LF (sendmail_fix_line_endings = always), and unless -i a line
// with a single "." ends the input. x, if not nil, sees the header lines.
func copyMessage(ctx context.Context, in *bufio.Reader, out io.Writer, dotEnds bool, x *extractor) error {
	atStart, lineStart := true, true
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk, err := in.ReadSlice('\n')
		partial := errors.Is(err, bufio.ErrBufferFull)
		if err != nil && !partial && err != io.EOF {
			return fmt.Errorf("error reading input: %w", err)
		}
		if len(chunk) == 0 && err == io.EOF {
			break
		}
		if partial || !lineStart {
			// A line longer than the buffer: copied as it is.
			atStart = false
			if x != nil {
				if err := x.longLine(); err != nil {
					return err
				}
			}
			if _, werr := out.Write(chunk); werr != nil {
				return werr
			}
			lineStart = !partial
			if err == io.EOF {
				break
			}
			continue
		}
		line := bytes.TrimRight(bytes.TrimSuffix(chunk, []byte{'\n'}), "\r")
		if atStart {
			if bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From ")) {
				continue
			}
			atStart = false
		}
		if dotEnds && len(line) == 1 && line[0] == '.' {
			break
		}
		if x != nil {
			if err := x.line(line); err != nil {
				return err
			}
		}
		if _, werr := out.Write(append(line, '\n')); werr != nil {
			return werr
		}
		if err == io.EOF {
			break
		}
	}
	if x != nil {
		return x.flush()
	}
	return nil
}

// extractor collects the recipients of the primary header block for -t:
// To, Cc and Bcc, or, once a Resent- recipient header was seen, only
// Resent-To, Resent-Cc and Resent-Bcc (Postfix's rule).
type extractor struct {
	limit     int
	inHeaders bool
	field     []byte
	resent    bool
	plain     []string
	resentTo  []string
}

func (x *extractor) recipients() []string {
	if x.resent {
		return x.resentTo
	}
	return x.plain
}

func (x *extractor) longLine() error {
	if x.inHeaders {
		return errors.New("unable to extract recipients: message header length exceeds safety limit")
	}
	return nil
}

func (x *extractor) line(b []byte) error {
	if !x.inHeaders {
		return nil
	}
	switch {
	case len(b) == 0:
		x.inHeaders = false
		return x.flush()
	case x.field != nil && (b[0] == ' ' || b[0] == '\t'):
		if len(x.field)+1+len(b) > x.limit {
			return errors.New("unable to extract recipients: message header length exceeds safety limit")
		}
		x.field = append(append(x.field, '\n'), b...)
		return nil
	case headerNameLen(b) > 0:
		err := x.flush()
		x.field = append(x.field[:0:0], b...)
		return err
	default:
		x.inHeaders = false
		return x.flush()
	}
}

// headerNameLen is the length of the field name of a header line
// ("Name:" or the obsolete "Name :"), 0 if b is not a header line.
func headerNameLen(b []byte) int {
	i := 0
	for i < len(b) && b[i] > ' ' && b[i] < 0x7f && b[i] != ':' {
		i++
	}
	j := i
	for j < len(b) && (b[j] == ' ' || b[j] == '\t') {
		j++
	}
	if i == 0 || j >= len(b) || b[j] != ':' {
		return 0
	}
	return i
}

func (x *extractor) flush() error {
	f := x.field
	x.field = nil
	if f == nil {
		return nil
	}
	n := headerNameLen(f)
	name := strings.ToLower(string(f[:n]))
	isResent := strings.HasPrefix(name, "resent-")
	switch strings.TrimPrefix(name, "resent-") {
	case "to", "cc", "bcc":
	default:
		return nil
	}
	if x.resent && !isResent {
		return nil
	}
	_, value, _ := strings.Cut(string(f), ":")
	l, err := address.ParseList(strings.ReplaceAll(value, "\n", ""))
	if err != nil {
		return fmt.Errorf("unable to extract recipients: %s: header: %v", f[:n], err)
	}
	for _, en := range l.Entries {
		if en.Addr.IsNull() {
			continue
		}
		if isResent {
			x.resent = true
			x.resentTo = append(x.resentTo, en.Addr.Internal())
		} else {
			x.plain = append(x.plain, en.Addr.Internal())
		}
	}
	if isResent {
		x.resent = true
	}
	return nil
}

// serveStandalone is sendmail -bs: an SMTP session on stdin and stdout
// whose messages go into maildrop/ like any other submission. As in
// Postfix's stand-alone mode, no access restrictions apply: the user can
// submit with sendmail anyway.
func serveStandalone(ctx context.Context, e *env, dir string) error {
	c, err := loadSendmailConfig(e, dir)
	if err != nil {
		return err
	}
	o := smtpd.DefaultOptions()
	o.Hostname = c.cfg.Get("myhostname")
	o.Banner = c.cfg.Get("smtpd_banner")
	if n := c.cfg.Get("mail_name"); n != "" {
		o.MailName = n
	}
	o.MessageSizeLimit = c.sizeLimit
	o.LookupName = func(context.Context, netip.Addr) string { return "localhost" }
	srv := &smtpd.Server{
		Opts:      o,
		Submitter: maildropSubmitter{qdir: c.qdir, limit: c.sizeLimit},
		Log:       slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	srv.ServeConn(ctx, &stdioConn{r: e.stdin, w: e.stdout})
	return nil
}

// maildropSubmitter is smtpd's Submitter for sendmail -bs: each message
// becomes a maildrop file, with the session's Received header in front.
type maildropSubmitter struct {
	qdir  string
	limit int64
}

func (s maildropSubmitter) Submit(ctx context.Context, m *cleanup.Message, content io.Reader) (string, error) {
	env := &maildrop.Envelope{Sender: m.Sender, SenderGiven: true, Recipients: m.Recipients}
	for _, a := range m.Attrs {
		switch a.Name {
		case queue.AttrEnvID:
			env.EnvID = a.Value
		case queue.AttrRet:
			env.Ret = a.Value
		case queue.AttrBody:
			env.Body = a.Value
		case queue.AttrSMTPUTF8:
			env.SMTPUTF8 = true
		}
	}
	w, err := maildrop.Create(filepath.Join(s.qdir, queue.Maildrop), env, s.limit, time.Now())
	if err != nil {
		return "", err
	}
	rcvd := m.Received
	if m.ReceivedFor != nil {
		rcvd = m.ReceivedFor(w.Name()) // the maildrop name, as Postfix's postdrop queue ID
	}
	cw := w.Content()
	_, err = io.WriteString(cw, rcvd+"\n")
	if err == nil {
		_, err = io.Copy(cw, content)
	}
	var name string
	if err == nil {
		name, err = w.Commit()
	} else {
		w.Abort()
	}
	if errors.Is(err, maildrop.ErrTooBig) {
		return "", &cleanup.Error{Code: 552, DSN: "5.3.4", Text: "Message size exceeds fixed limit"}
	}
	if err != nil {
		return "", err
	}
	if m.OnQueueID != nil {
		m.OnQueueID(name)
	}
	pickup.Poke(s.qdir)
	return name, nil
}

// stdioConn is the net.Conn of a stand-alone SMTP session: the client is
// whoever is on the other end of stdin and stdout, shown as localhost.
type stdioConn struct {
	r io.Reader
	w io.Writer
}

func (c *stdioConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *stdioConn) Write(p []byte) (int, error)      { return c.w.Write(p) }
func (c *stdioConn) Close() error                     { return nil }
func (c *stdioConn) LocalAddr() net.Addr              { return loopback() }
func (c *stdioConn) RemoteAddr() net.Addr             { return loopback() }
func (c *stdioConn) SetDeadline(time.Time) error      { return nil }
func (c *stdioConn) SetReadDeadline(time.Time) error  { return nil }
func (c *stdioConn) SetWriteDeadline(time.Time) error { return nil }

func loopback() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
