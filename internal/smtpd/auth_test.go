package smtpd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"mailhorn/internal/maillog"
)

// recordingPolicy remembers what the session told it, and acts on it:
// RCPT "hold@..." adds HOLD and PREPEND, end of data refuses more than
// maxSize octets, CheckConnect waits for connectGate when set.
type recordingPolicy struct {
	PermitAll
	connectGate chan struct{}
	maxSize     int64
	local       bool

	mu    sync.Mutex
	seen  []string // "STAGE pipelined=BOOL size=N"
	infos []Info
}

func (p *recordingPolicy) note(stage string, c *Info) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, stage+" pipelined="+map[bool]string{true: "yes", false: "no"}[c.Pipelined])
	p.infos = append(p.infos, *c)
}

func (p *recordingPolicy) CheckConnect(ctx context.Context, c *Info) *Reply {
	if p.connectGate != nil {
		<-p.connectGate
	}
	return nil
}

func (p *recordingPolicy) CheckHelo(_ context.Context, c *Info, _ string) *Reply {
	p.note("HELO", c)
	return nil
}

func (p *recordingPolicy) CheckMail(_ context.Context, c *Info, _ string) *Reply {
	p.note("MAIL", c)
	return nil
}

func (p *recordingPolicy) CheckRcpt(_ context.Context, c *Info, rcpt string) *Reply {
	p.note("RCPT", c)
	if strings.HasPrefix(rcpt, "hold@") {
		c.Actions.Hold = "held by test"
		c.Actions.Prepend = append(c.Actions.Prepend, "X-Test: prepended")
	}
	return nil
}

func (p *recordingPolicy) CheckData(_ context.Context, c *Info) *Reply {
	p.note("DATA", c)
	return nil
}

func (p *recordingPolicy) CheckEndOfData(_ context.Context, c *Info) *Reply {
	p.note("END", c)
	if p.maxSize > 0 && c.Size > p.maxSize {
		return &Reply{Code: 552, DSN: "5.3.4", Text: "Message too big for this test"}
	}
	return nil
}

func (p *recordingPolicy) LocalHeaderRewrite(context.Context, *Info) bool { return p.local }

func (p *recordingPolicy) stages() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.seen, "; ")
}

// startWith starts a test server with pol as its policy.
func startWith(t *testing.T, opt Options, pol Policy) *testServer {
	t.Helper()
	return startServerPolicy(t, opt, pol)
}

// dialogue writes each chunk in one write and reads the replies to it
// before the next (a chunk may hold several pipelined commands; want is
// the number of reply lines that ends each chunk's answer).
func dialogue(t *testing.T, c net.Conn, r *bufio.Reader, chunks []string, replies []int) string {
	t.Helper()
	var out strings.Builder
	for i, ch := range chunks {
		if ch != "" {
			if _, err := io.WriteString(c, ch); err != nil {
				t.Fatalf("write %q: %v", ch, err)
			}
		}
		for n := 0; n < replies[i]; {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("after %q: %v (so far:\n%s)", ch, err, out.String())
			}
			out.WriteString(l)
			if len(l) > 3 && l[3] == ' ' {
				n++
			}
		}
	}
	return out.String()
}

// TestPipelinedInfo: Info.Pipelined is set, and stays set, once the
// client sends input it could not know it may send (Postfix's
// reject_unauth_pipelining); it is never set for lawful RFC 2920 use.
func TestPipelinedInfo(t *testing.T) {
	tests := []struct {
		name     string
		pregreet string // sent before the greeting
		chunks   []string
		replies  []int
		want     string
		log      string
	}{
		{
			name:    "lawful pipelining after EHLO",
			chunks:  []string{"", "EHLO c.example\r\n", "MAIL FROM:<a@c.example>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n", "hi\r\n.\r\n"},
			replies: []int{1, 1, 3, 1},
			want:    "HELO pipelined=no; MAIL pipelined=no; RCPT pipelined=no; DATA pipelined=no; END pipelined=no",
		},
		{
			name:    "commands behind HELO",
			chunks:  []string{"", "HELO c.example\r\nMAIL FROM:<a@c.example>\r\n"},
			replies: []int{1, 2},
			want:    "HELO pipelined=yes; MAIL pipelined=yes",
			log:     `improper command pipelining after HELO from unknown[127.0.0.1]: MAIL FROM:<a@c.example>\r\n`,
		},
		{
			name:    "commands behind MAIL after HELO",
			chunks:  []string{"", "HELO c.example\r\n", "MAIL FROM:<a@c.example>\r\nRCPT TO:<b@example.test>\r\n"},
			replies: []int{1, 1, 2},
			want:    "HELO pipelined=no; MAIL pipelined=yes; RCPT pipelined=yes",
			log:     "improper command pipelining after MAIL from",
		},
		{
			name:    "content behind DATA",
			chunks:  []string{"", "EHLO c.example\r\n", "MAIL FROM:<a@c.example>\r\nRCPT TO:<b@example.test>\r\nDATA\r\nhi\r\n.\r\n"},
			replies: []int{1, 1, 4},
			want:    "HELO pipelined=no; MAIL pipelined=no; RCPT pipelined=no; DATA pipelined=yes; END pipelined=yes",
			log:     `improper command pipelining after DATA from unknown[127.0.0.1]: hi\r\n.\r\n`,
		},
		{
			name:     "input before the greeting",
			pregreet: "EHLO c.example\r\n",
			chunks:   []string{"", "MAIL FROM:<a@c.example>\r\n"},
			replies:  []int{2, 1},
			want:     "HELO pipelined=yes; MAIL pipelined=yes",
			log:      `improper command pipelining after CONNECT from unknown[127.0.0.1]: EHLO c.example\r\n`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := &recordingPolicy{}
			if tt.pregreet != "" {
				pol.connectGate = make(chan struct{})
			}
			ts := startWith(t, testOptions(), pol)
			c, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if tt.pregreet != "" {
				io.WriteString(c, tt.pregreet)
				// Wait until the octets are in the server's socket before
				// it looks (loopback: the write has put them there, but
				// give the kernel a moment; no timing is asserted).
				time.Sleep(50 * time.Millisecond)
				close(pol.connectGate)
			}
			dialogue(t, c, bufio.NewReader(c), tt.chunks, tt.replies)
			c.Close()
			ts.stop(t)
			if got := pol.stages(); got != tt.want {
				t.Errorf("stages:\n got %s\nwant %s", got, tt.want)
			}
			log := ts.log.String()
			if tt.log == "" && strings.Contains(log, "improper command pipelining") {
				t.Errorf("log has improper pipelining:\n%s", log)
			}
			if tt.log != "" && !strings.Contains(log, tt.log) {
				t.Errorf("log lacks %q:\n%s", tt.log, log)
			}
		})
	}
}

// TestSubmissionFields: what the session hands cleanup besides the
// envelope: the restrictions' actions (cleared with the transaction),
// Local from LocalHeaderRewrite, Info.Size from SIZE= and at the end of
// the data, and an end-of-data rejection relayed with Postfix's log line.
func TestSubmissionFields(t *testing.T) {
	pol := &recordingPolicy{maxSize: 20, local: true}
	ts := startWith(t, testOptions(), pol)
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	out := dialogue(t, c, bufio.NewReader(c), []string{
		"",
		"EHLO c.example\r\n",
		"MAIL FROM:<a@c.example> SIZE=5\r\n", "RCPT TO:<hold@example.test>\r\n", "DATA\r\n", "hi\r\n.\r\n",
		"MAIL FROM:<a@c.example>\r\n", "RCPT TO:<b@example.test>\r\n", "DATA\r\n", "this message is far too long\r\n.\r\n",
		"MAIL FROM:<a@c.example>\r\n", "RCPT TO:<b@example.test>\r\n", "DATA\r\n", "short\r\n.\r\n",
		"QUIT\r\n",
	}, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	c.Close()
	ts.stop(t)
	if !strings.Contains(out, "552 5.3.4 Message too big for this test\r\n") {
		t.Errorf("no end-of-data rejection:\n%s", out)
	}
	msgs := ts.sub.messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	m1, m2 := msgs[0].msg, msgs[1].msg
	if m1.Hold != "held by test" || len(m1.Prepend) != 1 || m1.Prepend[0] != "X-Test: prepended" || !m1.Local {
		t.Errorf("first message: Hold %q Prepend %q Local %v", m1.Hold, m1.Prepend, m1.Local)
	}
	if m2.Hold != "" || len(m2.Prepend) != 0 || !m2.Local {
		t.Errorf("actions not cleared with the transaction: Hold %q Prepend %q", m2.Hold, m2.Prepend)
	}
	pol.mu.Lock()
	var sizes []int64
	for _, in := range pol.infos {
		sizes = append(sizes, in.Size)
	}
	pol.mu.Unlock()
	// HELO, MAIL SIZE=5, RCPT, DATA, END (the content as received), ...
	if sizes[1] != 5 || sizes[2] != 5 {
		t.Errorf("Info.Size at MAIL/RCPT = %d/%d, want 5 (SIZE=)", sizes[1], sizes[2])
	}
	if sizes[4] != int64(len("hi\n")) && sizes[4] != int64(len("hi\r\n")) {
		t.Errorf("Info.Size at end of data = %d", sizes[4])
	}
	if sizes[5] != 0 {
		t.Errorf("Info.Size at the next MAIL = %d, want 0", sizes[5])
	}
	if !strings.Contains(ts.log.String(), "QID2: reject: END-OF-MESSAGE from unknown[127.0.0.1]: 552 5.3.4 Message too big for this test; from=<a@c.example> to=<b@example.test> proto=ESMTP helo=<c.example>") {
		t.Errorf("log lacks the END-OF-MESSAGE reject:\n%s", ts.log)
	}
}

// TestWrapperModeFailures: a client that does not speak TLS to a
// wrapper-mode port, and a wrapper-mode service without a certificate,
// are logged as Postfix does and get no greeting.
func TestWrapperModeFailures(t *testing.T) {
	t.Run("plaintext client", func(t *testing.T) {
		opt := testOptions()
		opt.TLS = &tls.Config{Certificates: []tls.Certificate{testCert(t)}}
		opt.WrapperMode = true
		opt.Timeout = 5 * time.Second
		ts := startServer(t, opt)
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		io.WriteString(c, "EHLO c.example\r\n")
		b, _ := io.ReadAll(c)
		if bytes.Contains(b, []byte("220 ")) {
			t.Errorf("greeting sent in clear: %q", b)
		}
		c.Close()
		ts.stop(t)
		for _, want := range []string{"SSL_accept error from unknown[127.0.0.1]: ", "lost connection after CONNECT from unknown[127.0.0.1]", "disconnect from unknown[127.0.0.1] commands=0"} {
			if !strings.Contains(ts.log.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, ts.log)
			}
		}
	})
	t.Run("no certificate", func(t *testing.T) {
		opt := testOptions()
		opt.WrapperMode = true
		ts := startServer(t, opt)
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if b, _ := io.ReadAll(c); len(b) != 0 {
			t.Errorf("got %q, want the connection closed", b)
		}
		ts.stop(t)
		if want := "warning: Wrapper-mode request dropped from unknown[127.0.0.1] for service smtp."; !strings.Contains(ts.log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, ts.log)
		}
	})
}

func TestTLSProtocols(t *testing.T) {
	tests := []struct {
		in       string
		min, max uint16
		raised   bool
		err      bool
	}{
		{">=TLSv1", tls.VersionTLS12, tls.VersionTLS13, true, false},
		{"", tls.VersionTLS12, tls.VersionTLS13, true, false},
		{">=TLSv1.2", tls.VersionTLS12, tls.VersionTLS13, false, false},
		{">=TLSv1.3", tls.VersionTLS13, tls.VersionTLS13, false, false},
		{">=TLSv1.2 <=TLSv1.2", tls.VersionTLS12, tls.VersionTLS12, false, false},
		{"!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", tls.VersionTLS12, tls.VersionTLS13, false, false},
		{"!SSLv2:!SSLv3", tls.VersionTLS12, tls.VersionTLS13, true, false},
		{"TLSv1.2 TLSv1.3", tls.VersionTLS12, tls.VersionTLS13, false, false},
		{"TLSv1.3", tls.VersionTLS13, tls.VersionTLS13, false, false},
		{"tlsv1.2", tls.VersionTLS12, tls.VersionTLS12, false, false},
		{"<=TLSv1.1", 0, 0, false, true},
		{"!TLSv1.2 !TLSv1.3", 0, 0, false, true},
		{">=TLSv9", 0, 0, false, true},
		{"SSLv4", 0, 0, false, true},
	}
	for _, tt := range tests {
		minV, maxV, raised, err := TLSProtocols(tt.in)
		if (err != nil) != tt.err || minV != tt.min || maxV != tt.max || raised != tt.raised {
			t.Errorf("TLSProtocols(%q) = %x, %x, %v, %v; want %x, %x, %v, error %v", tt.in, minV, maxV, raised, err, tt.min, tt.max, tt.raised, tt.err)
		}
	}
}

func TestParseSASLSecurity(t *testing.T) {
	tests := []struct {
		in   string
		want SASLSecurity
		err  bool
	}{
		{"noanonymous", SASLSecurity{NoAnonymous: true}, false},
		{"noplaintext, noanonymous", SASLSecurity{NoPlaintext: true, NoAnonymous: true}, false},
		{"", SASLSecurity{}, false},
		{"noactive nodictionary mutual_auth forward_secrecy", SASLSecurity{}, false},
		{"NOPLAINTEXT", SASLSecurity{NoPlaintext: true}, false},
		{"noplaintext, bogus", SASLSecurity{}, true},
	}
	for _, tt := range tests {
		got, err := ParseSASLSecurity(tt.in)
		if (err != nil) != tt.err || !tt.err && got != tt.want {
			t.Errorf("ParseSASLSecurity(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// FuzzAuthExchange feeds random client input to a session that offers
// AUTH with the fake Authenticator: no panic (a panic would be caught by
// the session and logged, so the log is checked), and every reply line
// is a well-formed "DDD " or "DDD-" line.
func FuzzAuthExchange(f *testing.F) {
	for _, s := range []string{
		"EHLO x\r\nAUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==\r\nMAIL FROM:<a@b> AUTH=<>\r\n",
		"AUTH LOGIN\r\nYWxpY2VAZXhhbXBsZS5vcmc=\r\nc2VjcmV0\r\nQUIT\r\n",
		"AUTH PLAIN\r\n*\r\nAUTH PLAIN =\r\nAUTH LOGIN =\r\n=\r\n=\r\n",
		"AUTH PLAIN\r\n%%%\r\nAUTH ANONYMOUS\r\nAUTH\r\n",
		"AUTH LOGIN\r\n" + strings.Repeat("A", 100) + "\r\n",
		"AUTH PLAIN AGJvb21AZXhhbXBsZS5vcmcAeA==\r\nAUTH PLAIN AHRlbXBAZXhhbXBsZS5vcmcAeA==\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		opt := testOptions()
		opt.Auth = &fakeAuth{limit: 3}
		opt.AuthResponseLimit = 64
		opt.Timeout = 5 * time.Second
		var panics lockedBuffer
		srv := &Server{
			Opts:      opt,
			Submitter: &fakeSubmitter{},
			MailLog:   maillog.New(io.Discard, "mailhorn", "mx.example.test").Service("smtpd"),
			Log:       slog.New(slog.NewTextHandler(&panics, nil)),
		}
		server, client := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.ServeConn(context.Background(), server)
		}()
		var out bytes.Buffer
		readDone := make(chan struct{})
		go func() {
			defer close(readDone)
			io.Copy(&out, client)
		}()
		client.SetDeadline(time.Now().Add(10 * time.Second))
		client.Write(in)
		client.Write([]byte("\r\nQUIT\r\n"))
		// The end of input: a session still waiting for a line ends.
		client.Close()
		<-done
		<-readDone
		if strings.Contains(panics.String(), "panic") {
			t.Fatalf("session panicked on %q:\n%s", in, panics.String())
		}
		for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\r\n"), "\r\n") {
			if l == "" {
				continue
			}
			if len(l) < 4 || l[0] < '2' || l[0] > '5' || (l[3] != ' ' && l[3] != '-') {
				t.Fatalf("malformed reply line %q for input %q", l, in)
			}
		}
	})
}
