package maillog

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Logger writes mail log lines in syslog's file format, one Write per line so
// that concurrent writers sharing a file never interleave within a line.
type Logger struct {
	mu   sync.Mutex
	w    io.Writer
	name string // syslog_name, "mailhorn"
	host string
	pid  int
	now  func() time.Time
	buf  []byte
	// syslog: write RFC 3164 datagrams ("<22>Nov 28 14:52:51 tag[pid]:
	// msg") to the local syslog daemon instead of file lines.
	syslog bool
}

// New returns a Logger writing to w. name is the syslog_name ("mailhorn");
// host the short host name shown on each line.
func New(w io.Writer, name, host string) *Logger {
	if i := strings.IndexByte(host, '.'); i > 0 {
		host = host[:i]
	}
	return &Logger{w: w, name: name, host: host, pid: os.Getpid(), now: time.Now}
}

// NewSyslog returns a Logger that sends each line to the local syslog
// daemon (/dev/log) with facility mail, as Postfix logs by default.
func NewSyslog(name, host string) (*Logger, error) {
	c, err := net.Dial("unixgram", "/dev/log")
	if err != nil {
		return nil, fmt.Errorf("syslog: %w", err)
	}
	l := New(c, name, host)
	l.syslog = true
	return l, nil
}

// WithClock replaces the clock, for tests.
func (l *Logger) WithClock(now func() time.Time) *Logger {
	l.now = now
	return l
}

// Service returns a writer for one service (smtpd, qmgr, cleanup, virtual,
// ...): the program name on its lines is "mailhorn/service".
func (l *Logger) Service(service string) *Service {
	return &Service{l: l, tag: l.name + "/" + service}
}

// ServiceAs is Service under another syslog_name, as a master.cf entry's
// "-o syslog_name=postfix/submission" gives "postfix/submission/smtpd".
func (l *Logger) ServiceAs(syslogName, service string) *Service {
	return &Service{l: l, tag: syslogName + "/" + service}
}

func (l *Logger) line(tag, msg string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf[:0]
	if l.syslog {
		b = append(b, "<22>"...) // facility mail, severity info
	}
	b = l.now().AppendFormat(b, time.Stamp)
	b = append(b, ' ')
	if !l.syslog {
		b = append(b, l.host...)
		b = append(b, ' ')
	}
	b = append(b, tag...)
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(l.pid), 10)
	b = append(b, "]: "...)
	b = appendSanitized(b, msg)
	if !l.syslog {
		b = append(b, '\n')
	}
	l.w.Write(b)
	l.buf = b
}

// appendSanitized drops control characters a client may have sent, so a
// line in the log is always one line.
func appendSanitized(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c == 0x7f {
			c = '?'
		}
		b = append(b, c)
	}
	return b
}

// Service logs on behalf of one service.
type Service struct {
	l   *Logger
	tag string
}

// Printf logs a free-form line.
func (s *Service) Printf(format string, args ...any) {
	s.l.line(s.tag, fmt.Sprintf(format, args...))
}

// Warning logs "warning: ...".
func (s *Service) Warning(format string, args ...any) {
	s.l.line(s.tag, "warning: "+fmt.Sprintf(format, args...))
}

// Client formats a client as Postfix does: name[address].
func Client(name, addr string) string {
	if name == "" {
		name = "unknown"
	}
	return name + "[" + addr + "]"
}

// Connect logs "connect from name[addr]".
func (s *Service) Connect(client string) { s.l.line(s.tag, "connect from "+client) }

// Disconnect logs "disconnect from name[addr] ehlo=1 mail=1 ... commands=N".
func (s *Service) Disconnect(client, counts string) {
	msg := "disconnect from " + client
	if counts != "" {
		msg += " " + counts
	}
	s.l.line(s.tag, msg)
}

// QueuedClient logs "ID: client=name[addr]" (the first line of a message's life).
func (s *Service) QueuedClient(id, client, extra string) {
	msg := id + ": client=" + client
	if extra != "" {
		msg += ", " + extra
	}
	s.l.line(s.tag, msg)
}

// Reject logs a refused command the way Postfix does:
// "NOQUEUE: reject: RCPT from name[addr]: 550 5.1.1 <u@d>: Recipient address rejected: ...; from=<s> to=<r> proto=ESMTP helo=<h>".
func (s *Service) Reject(id, stage, client, reply, from, to, proto, helo string) {
	if id == "" {
		id = "NOQUEUE"
	}
	msg := id + ": reject: " + stage + " from " + client + ": " + reply + "; from=<" + from + ">"
	if to != "" {
		msg += " to=<" + to + ">"
	}
	msg += " proto=" + proto + " helo=<" + helo + ">"
	s.l.line(s.tag, msg)
}

// MessageID logs cleanup's "ID: message-id=<...>".
func (s *Service) MessageID(id, msgid string) {
	s.l.line(s.tag, id+": message-id="+msgid)
}

// Queued logs the queue manager's "ID: from=<s>, size=N, nrcpt=N (queue active)".
func (s *Service) Queued(id, from string, size int64, nrcpt int) {
	s.l.line(s.tag, fmt.Sprintf("%s: from=<%s>, size=%d, nrcpt=%d (queue active)", id, from, size, nrcpt))
}

// Removed logs "ID: removed".
func (s *Service) Removed(id string) { s.l.line(s.tag, id+": removed") }

// Delivery is one recipient's delivery attempt.
type Delivery struct {
	ID       string
	To       string
	OrigTo   string // "" when the same as To
	Relay    string // "virtual", "local", "host[addr]:port", "none"
	Arrival  time.Time
	Delays   [4]time.Duration // before queue manager, in queue manager, connection set-up, transmission
	DSN      string           // "2.0.0"
	Status   string           // "sent", "deferred", "bounced", "expired"
	Detail   string           // the text in parentheses
	Conn     string           // optional ", conn_use=N"-style extras, empty normally
	Finished time.Time
}

// Deliver logs "ID: to=<r>, orig_to=<o>, relay=R, delay=D, delays=a/b/c/d, dsn=X.Y.Z, status=S (detail)".
func (s *Service) Deliver(d Delivery) {
	var b strings.Builder
	b.WriteString(d.ID)
	b.WriteString(": to=<")
	b.WriteString(d.To)
	b.WriteString(">")
	if d.OrigTo != "" && d.OrigTo != d.To {
		b.WriteString(", orig_to=<")
		b.WriteString(d.OrigTo)
		b.WriteString(">")
	}
	b.WriteString(", relay=")
	b.WriteString(d.Relay)
	fin := d.Finished
	if fin.IsZero() {
		fin = s.l.now()
	}
	b.WriteString(", delay=")
	b.WriteString(seconds(fin.Sub(d.Arrival)))
	b.WriteString(", delays=")
	for i, x := range d.Delays {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(seconds(x))
	}
	b.WriteString(", dsn=")
	b.WriteString(d.DSN)
	b.WriteString(", status=")
	b.WriteString(d.Status)
	b.WriteString(" (")
	b.WriteString(d.Detail)
	b.WriteString(")")
	s.l.line(s.tag, b.String())
}

// seconds formats a delay as Postfix does: two significant decimals below
// ten seconds ("0.02", "1.5"), whole seconds above, "0" for nothing.
func seconds(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	f := d.Seconds()
	if f >= 10 {
		return strconv.FormatInt(int64(f+0.5), 10)
	}
	s := strconv.FormatFloat(f, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" || s == "0" {
		return "0"
	}
	return s
}

// Notification logs "ID: sender non-delivery notification: NEWID" (kind is
// "non-delivery", "delay", "delivery").
func (s *Service) Notification(id, kind, newID string) {
	s.l.line(s.tag, id+": sender "+kind+" notification: "+newID)
}
