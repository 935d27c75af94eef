package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailhorn/internal/cleanup"
	"mailhorn/internal/maildrop"
	"mailhorn/internal/maillog"
	"mailhorn/internal/pickup"
	"mailhorn/internal/queue"
)

// Postfix's sendmail command line, per sendmail.c and checked against
// Postfix 3.7's /usr/sbin/sendmail.
func TestSendmailArgs(t *testing.T) {
	tests := []struct {
		args []string
		want sendmailArgs // mode, flags and recipients compared
		err  string
	}{
		{args: []string{"bob"}, want: sendmailArgs{dotEnds: true, recipients: []string{"bob"}}},
		{args: []string{"-t", "-i"}, want: sendmailArgs{extract: true}},
		{args: []string{"-ti", "-oi", "a", "-f", "x"}, want: sendmailArgs{extract: true, recipients: []string{"a", "-f", "x"}}},
		{args: []string{"-oi", "-f", "me@x", "-F", "Me Myself", "a"}, want: sendmailArgs{sender: "me@x", senderGiven: true, fullName: "Me Myself", fullGiven: true, recipients: []string{"a"}}},
		{args: []string{"-rme@x", "--", "-a"}, want: sendmailArgs{dotEnds: true, sender: "me@x", senderGiven: true, recipients: []string{"-a"}}},
		// "-o x value": -o takes one argument, so "value" is a recipient.
		{args: []string{"-o", "x", "value"}, want: sendmailArgs{dotEnds: true, recipients: []string{"value"}}},
		{args: []string{"-oQ/var/spool", "-om", "-o7", "-L", "label", "-h", "4", "-U", "-m", "-O", "a=b", "-Am", "-R", "full", "-x", "a"}, want: sendmailArgs{dotEnds: true, recipients: []string{"a"}}},
		{args: []string{"-N", "success,delay", "-V", "env1", "-B", "8BITMIME", "-G", "a"}, want: sendmailArgs{dotEnds: true, notify: queue.NotifySuccess | queue.NotifyDelay, envid: "env1", body: "8BITMIME", remote: true, recipients: []string{"a"}}},
		{args: []string{"-N", "never", "a"}, want: sendmailArgs{dotEnds: true, notify: queue.NotifyNever, recipients: []string{"a"}}},
		{args: []string{"-N", "bogus", "a"}, want: sendmailArgs{dotEnds: true, recipients: []string{"a"}}},
		{args: []string{"-V", "a\tb", "a"}, want: sendmailArgs{dotEnds: true, recipients: []string{"a"}}},
		{args: []string{"-C", "/etc/x/main.cf", "a"}, want: sendmailArgs{dotEnds: true, configDir: "/etc/x", recipients: []string{"a"}}},
		{args: []string{"-c", "/etc/y"}, want: sendmailArgs{dotEnds: true, configDir: "/etc/y"}},
		{args: []string{"-bp"}, want: sendmailArgs{mode: smMailq, dotEnds: true}},
		{args: []string{"-q"}, want: sendmailArgs{mode: smFlush, dotEnds: true}},
		{args: []string{"-q30m"}, want: sendmailArgs{dotEnds: true, qtime: true}},
		{args: []string{"-qRexample.com"}, want: sendmailArgs{dotEnds: true, site: "example.com"}},
		{args: []string{"-qI6457F2A1C04D2001"}, want: sendmailArgs{dotEnds: true, id: "6457F2A1C04D2001"}},
		{args: []string{"-bi"}, want: sendmailArgs{mode: smNewalias, dotEnds: true}},
		{args: []string{"-I", "-oA/etc/aliases"}, want: sendmailArgs{mode: smNewalias, dotEnds: true, aliasDB: "/etc/aliases"}},
		{args: []string{"-bs"}, want: sendmailArgs{mode: smUser, dotEnds: true}},
		{args: []string{"-bd"}, want: sendmailArgs{mode: smDaemon, dotEnds: true}},
		{args: []string{"-bh"}, want: sendmailArgs{mode: smIgnore, dotEnds: true}},
		{args: []string{"-bm", "a"}, want: sendmailArgs{dotEnds: true, recipients: []string{"a"}}},
		{args: []string{"-bv", "a"}, want: sendmailArgs{mode: smVerify, dotEnds: true, recipients: []string{"a"}}},
		{args: []string{"-v", "-v", "a"}, want: sendmailArgs{dotEnds: true, verbose: 2, recipients: []string{"a"}}},
		{args: []string{"-n"}, err: "-n option not supported"},
		{args: []string{"-bz"}, err: "unsupported: -bz"},
		{args: []string{"-X", "/tmp/log"}, err: "unsupported: -X/"},
		{args: []string{"-XV", "a"}, err: "VERP"},
		{args: []string{"-V", "+=", "a"}, err: "VERP"},
		{args: []string{"-B", "9BIT"}, err: "-B option needs 8BITMIME or 7BIT"},
		{args: []string{"-qZ"}, err: "-qZ is not implemented"},
		{args: []string{"-qR"}, err: "specify: -qRsitename"},
		{args: []string{"-qI"}, err: "specify: -qIqueueid"},
		{args: []string{"-oA"}, err: "-oA requires pathname"},
		{args: []string{"-bp", "-t"}, err: "-t can be used only in delivery mode"},
		{args: []string{"-bp", "-qRx"}, err: "-qR can be used only in delivery mode"},
		{args: []string{"-f"}, err: "option requires an argument -- 'f'"},
		{args: []string{"-k"}, err: "invalid option -- 'k'"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, err := parseSendmailArgs(tt.args)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.warnings = nil
			if len(got.recipients) == 0 {
				got.recipients = nil
			}
			if tt.args[0] == "-t" || tt.args[0] == "-ti" || tt.args[0] == "-oi" {
				tt.want.dotEnds = false
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func FuzzSendmailArgs(f *testing.F) {
	f.Add("-t\x00-oi\x00-f\x00a@b\x00c")
	f.Add("-V\x00ab\x00-qRx\x00-bp")
	f.Add("-oA\x00-X\x00-\x00--")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseSendmailArgs(strings.Split(s, "\x00"))
		if err == nil && a.mode != smEnqueue && a.extract {
			t.Fatalf("-t accepted in mode %d", a.mode)
		}
	})
}

// mailEnv is a configuration directory and queue for sendmail and pickup.
type mailEnv struct {
	t         *testing.T
	conf, dir string
	q         *queue.Queue
	log       *bytes.Buffer
}

func newMailEnv(t *testing.T, extra string) *mailEnv {
	t.Helper()
	m := &mailEnv{t: t, conf: t.TempDir(), dir: t.TempDir(), log: &bytes.Buffer{}}
	writeFile(t, m.conf, "main.cf", "queue_directory = "+m.dir+"\nmyhostname = host.example\nmydomain = example\n"+extra)
	var err error
	if m.q, err = queue.Open(m.dir, queue.NewIDSource(1, nil)); err != nil {
		t.Fatal(err)
	}
	if err := pickup.Prepare(m.dir); err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *mailEnv) sendmail(stdin string, args ...string) (string, string, int) {
	m.t.Helper()
	return runCommand(m.t, runSendmail, stdin, append([]string{"-c", m.conf}, args...)...)
}

type domainRewriter struct{}

func (domainRewriter) Canonical(_ context.Context, a string, _ cleanup.Class, _ bool) (string, error) {
	if a != "" && !strings.Contains(a, "@") {
		a += "@example"
	}
	return a, nil
}
func (domainRewriter) ExpandVirtual(_ context.Context, a string) ([]string, error) {
	return []string{a}, nil
}

type osUsers struct{}

func (osUsers) LookupID(_ context.Context, uid int) (string, bool, error) {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return "", false, nil
	}
	return u.Username, true, nil
}

// pickup runs one pickup scan with a real cleanup and returns the queue
// files it made, with their content.
func (m *mailEnv) pickup() []queuedMsg {
	m.t.Helper()
	ml := maillog.New(m.log, "mailhorn", "host")
	c := cleanup.New(m.q, domainRewriter{}, nil, ml.Service("cleanup"), cleanup.DefaultOptions())
	s, err := pickup.New(pickup.Options{Dir: m.dir, Submit: c.Submit, Users: osUsers{}, Log: ml.Service("pickup"), Hostname: "host.example"})
	if err != nil {
		m.t.Fatal(err)
	}
	if err := s.Scan(context.Background()); err != nil {
		m.t.Fatal(err)
	}
	ents, _ := m.q.Scan(queue.Incoming)
	var out []queuedMsg
	for _, e := range ents {
		f, err := m.q.Read(queue.Incoming, e.ID)
		if err != nil {
			m.t.Fatal(err)
		}
		b, _ := os.ReadFile(m.q.Path(queue.Incoming, e.ID))
		out = append(out, queuedMsg{f, string(b[f.ContentOffset : f.ContentOffset+f.ContentSize])})
		m.q.Remove(queue.Incoming, e.ID)
	}
	return out
}

type queuedMsg struct {
	*queue.File
	content string
}

func (q queuedMsg) rcpts() string {
	var s []string
	for _, r := range q.Recipients {
		s = append(s, r.Address)
	}
	return strings.Join(s, " ")
}

func TestSendmailThroughPickup(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		args        []string
		stdin       string
		sender      string
		rcpts       string
		has, hasNot []string
	}{
		{"recipients as arguments, sender from the owner", []string{"-F", "Joe Q", "bob", "Carol <carol@x>, dave@y"},
			"From me Sat Nov 28\r\n>From x\r\nSubject: hi\r\n\r\nline 1\r\n.\r\nnot sent\r\n",
			me.Username + "@example", "bob@example carol@x dave@y",
			[]string{"Subject: hi\n", "\n\nline 1\n", "From: Joe Q <" + me.Username + "@example>", "(mailhorn, from userid " + strconv.Itoa(os.Getuid()) + ")"},
			[]string{"From me", ">From x", "not sent", "\r"}},
		{"-i keeps dot lines", []string{"-oi", "-f", "list@x", "bob@y"}, "Subject: s\n\n.\nafter\n",
			"list@x", "bob@y", []string{"\n.\nafter\n", "<list@x>"}, nil},
		{"-t with Bcc", []string{"-t", "-i", "cmd@line"},
			"To: a@x, \"B b\" <b@y>\nCc: c\nBcc: d@z\nSubject: s\n\nbody\nTo: notme@x\n",
			me.Username + "@example", "cmd@line a@x b@y c@example d@z",
			[]string{"To: a@x", "Cc: c"}, []string{"Bcc", "d@z"}},
		{"-t with Resent- headers", []string{"-t"},
			"To: a@x\nResent-To: r1@x\nTo: late@x\nResent-Bcc: r2@x\n\nbody\n",
			me.Username + "@example", "r1@x r2@x", nil, []string{"Resent-Bcc"}},
		{"null sender and DSN", []string{"-f", "<>", "-N", "never", "-V", "id1", "bob@x"}, "Subject: x\n",
			"", "bob@x", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMailEnv(t, "")
			if out, errs, code := m.sendmail(tt.stdin, tt.args...); code != 0 || out != "" {
				t.Fatalf("sendmail: exit %d, stdout %q, stderr %q", code, out, errs)
			}
			msgs := m.pickup()
			if len(msgs) != 1 {
				t.Fatalf("%d messages queued; log:\n%s", len(msgs), m.log)
			}
			q := msgs[0]
			if q.Sender != tt.sender || q.rcpts() != tt.rcpts {
				t.Errorf("envelope from=<%s> to=%s; want from=<%s> to=%s", q.Sender, q.rcpts(), tt.sender, tt.rcpts)
			}
			for _, s := range tt.has {
				if !strings.Contains(q.content, s) {
					t.Errorf("content lacks %q:\n%s", s, q.content)
				}
			}
			for _, s := range tt.hasNot {
				if strings.Contains(q.content, s) {
					t.Errorf("content has %q:\n%s", s, q.content)
				}
			}
			if strings.Contains(tt.name, "DSN") && (q.Recipients[0].Notify != queue.NotifyNever || q.Attr(queue.AttrEnvID) != "id1") {
				t.Errorf("DSN: notify %d envid %q", q.Recipients[0].Notify, q.Attr(queue.AttrEnvID))
			}
			want := fmt.Sprintf("uid=%d from=<%s>", os.Getuid(), strings.TrimSuffix(tt.sender, "@example"))
			if !strings.Contains(m.log.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, m.log)
			}
		})
	}
}

// Every error exits 75, as Postfix's sendmail does, and leaves nothing.
func TestSendmailErrors(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		args  []string
		stdin string
		err   string
	}{
		{"no recipients", "", nil, "x\n", "Recipient addresses must be specified on the command line or via the -t option"},
		{"-t finds none", "", []string{"-t"}, "Subject: x\n\nTo: a@b\n", "No recipient addresses found in message header"},
		{"too big", "message_size_limit = 300\n", []string{"a@b"}, strings.Repeat("x", 400) + "\n", "message file too big"},
		{"mailq with recipients", "", []string{"-bp", "a"}, "", "display queue mode requires no recipient"},
		{"-bv", "", []string{"-bv", "a"}, "", "-bv"},
		{"usage", "", []string{"-n"}, "", "-n option not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMailEnv(t, tt.extra)
			_, errs, code := m.sendmail(tt.stdin, tt.args...)
			if code != 75 || !strings.Contains(errs, "sendmail: fatal: ") || !strings.Contains(errs, tt.err) {
				t.Errorf("exit %d, stderr %q; want 75 and %q", code, errs, tt.err)
			}
			if ents, _ := os.ReadDir(filepath.Join(m.dir, queue.Maildrop)); len(ents) != 0 {
				t.Errorf("maildrop holds %v", ents)
			}
		})
	}
	m := newMailEnv(t, "")
	for _, args := range [][]string{{"-bh"}, {"-q30m"}} {
		if _, errs, code := m.sendmail("", args...); code != 0 {
			t.Errorf("%v: exit %d, %s", args, code, errs)
		}
	}
}

// The daemon need not run: the file waits in maildrop/ (and sendmail's
// poke of the absent pickup is harmless).
func TestSendmailWhileStopped(t *testing.T) {
	m := newMailEnv(t, "")
	if _, errs, code := m.sendmail("Subject: x\n\nhi\n", "bob@x"); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	ents, _ := os.ReadDir(filepath.Join(m.dir, queue.Maildrop))
	if len(ents) != 1 || !maildrop.ValidName(ents[0].Name()) {
		t.Fatalf("maildrop holds %v", ents)
	}
	info, _ := ents[0].Info()
	if info.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", info.Mode())
	}
	if msgs := m.pickup(); len(msgs) != 1 {
		t.Errorf("%d messages after start", len(msgs))
	}
}

// pipeConn is the client end of a sendmail -bs session.
type pipeConn struct {
	io.Reader
	io.Writer
	stdioConn
}

func (p *pipeConn) Read(b []byte) (int, error)  { return p.Reader.Read(b) }
func (p *pipeConn) Write(b []byte) (int, error) { return p.Writer.Write(b) }

// sendmail -bs driven by Go's SMTP client over pipes.
func TestSendmailStandaloneSMTP(t *testing.T) {
	m := newMailEnv(t, "")
	cr, sw := io.Pipe() // server to client
	sr, cw := io.Pipe() // client to server
	var errb bytes.Buffer
	e := &env{stdin: sr, stdout: sw, stderr: &errb, getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() {
		done <- runSendmail(context.Background(), e, []string{"-c", m.conf, "-bs"})
		sw.Close()
	}()
	var conn net.Conn = &pipeConn{Reader: cr, Writer: cw}
	c, err := smtp.NewClient(conn, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("sender@example.org"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"bob@x", "carol@y"} {
		if err := c.Rcpt(r); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "Subject: via -bs\r\n\r\nhello\r\n.dot\r\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	cw.Close()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sendmail -bs did not end")
	}
	msgs := m.pickup()
	if len(msgs) != 1 {
		t.Fatalf("%d messages; log:\n%s", len(msgs), m.log)
	}
	q := msgs[0]
	if q.Sender != "sender@example.org" || q.rcpts() != "bob@x carol@y" {
		t.Errorf("envelope from=<%s> to=%s", q.Sender, q.rcpts())
	}
	for _, s := range []string{"Received: by host.example (mailhorn, from userid", "Received: from client.example (localhost [127.0.0.1])", "Subject: via -bs\n", "\n.dot\n"} {
		if !strings.Contains(q.content, s) {
			t.Errorf("content lacks %q:\n%s", s, q.content)
		}
	}
}
