package smtpd

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTranscripts runs the dialogues in testdata/smtpd/*.txt against a
// real server on loopback. Lines:
//
//	# comment
//	@opt name=value      server option, before the first C:/S: line
//	C: text              client sends text and CRLF (consecutive C:/R:
//	R: "go-quoted"       lines go out in one write: pipelining)
//	S: text              the next reply line must be exactly text
//	@tls                 client starts TLS (after the 220 to STARTTLS)
//	@closed              the server must have closed the connection
//	@submits N           N messages reached the submitter
//	@contains N "q"      message N's content contains q (@lacks: does not)
//	@received N "q"      message N's Received header contains q
//	@envelope N "q"      message N's envelope (fmt %+v) contains q
//	@log "q"             the mail log contains q (@nolog: does not)
//
// The assertions after the dialogue run once the session has ended.
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("../../testdata/smtpd/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			t.Parallel()
			runTranscript(t, f)
		})
	}
}

func runTranscript(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	opt := testOptions()
	i := 0
	for ; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if !strings.HasPrefix(l, "@opt ") {
			break
		}
		setOption(t, &opt, fmt.Sprintf("%s:%d", file, i+1), strings.TrimPrefix(l, "@opt "))
	}
	ts := startServer(t, opt)
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A safety net against a hung test, not an assertion on timing.
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	var c net.Conn = conn
	if opt.WrapperMode && opt.TLS != nil {
		// Implicit TLS (RFC 8314): the handshake comes before the greeting.
		tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, ServerName: "mx.example.test"})
		if err := tc.Handshake(); err != nil {
			t.Fatalf("wrapper-mode TLS handshake: %v", err)
		}
		c = tc
	}
	r := bufio.NewReader(c)
	var pending []byte
	flush := func(where string) {
		if len(pending) == 0 {
			return
		}
		if _, err := c.Write(pending); err != nil {
			t.Fatalf("%s: write: %v", where, err)
		}
		pending = nil
	}
	var checks []string
	var checkAt []string
	for ; i < len(lines); i++ {
		where := fmt.Sprintf("%s:%d", filepath.Base(file), i+1)
		l := strings.TrimRight(lines[i], "\r")
		switch {
		case strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "C: "), l == "C:":
			pending = append(pending, strings.TrimPrefix(strings.TrimPrefix(l, "C:"), " ")+"\r\n"...)
		case strings.HasPrefix(l, "R: "):
			s, err := strconv.Unquote(strings.TrimPrefix(l, "R: "))
			if err != nil {
				t.Fatalf("%s: bad quoted string: %v", where, err)
			}
			pending = append(pending, s...)
		case strings.HasPrefix(l, "S: "):
			flush(where)
			got, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("%s: want %q, read error %v (log:\n%s)", where, l[3:], err, ts.log)
			}
			if got = strings.TrimSuffix(got, "\r\n"); got != l[3:] {
				t.Fatalf("%s: got  %q\n want %q", where, got, l[3:])
			}
		case l == "@tls":
			flush(where)
			tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, ServerName: "mx.example.test"})
			if err := tc.Handshake(); err != nil {
				t.Fatalf("%s: TLS handshake: %v", where, err)
			}
			c, r = tc, bufio.NewReader(tc)
		case l == "@closed":
			flush(where)
			if b, err := r.ReadString('\n'); err != io.EOF {
				t.Fatalf("%s: want connection closed, got %q %v", where, b, err)
			}
		case strings.HasPrefix(l, "@"):
			checks = append(checks, l)
			checkAt = append(checkAt, where)
		default:
			t.Fatalf("%s: cannot parse %q", where, l)
		}
	}
	flush("end")
	c.Close()
	ts.stop(t)
	msgs := ts.sub.messages()
	for k, chk := range checks {
		where := checkAt[k]
		verb, rest, _ := strings.Cut(chk, " ")
		n := 0
		var q string
		if verb == "@contains" || verb == "@lacks" || verb == "@received" || verb == "@envelope" {
			ns, qs, _ := strings.Cut(rest, " ")
			n, _ = strconv.Atoi(ns)
			if n < 1 || n > len(msgs) {
				t.Errorf("%s: no message %d (have %d)", where, n, len(msgs))
				continue
			}
			rest = qs
		}
		if verb != "@submits" {
			var err error
			if q, err = strconv.Unquote(rest); err != nil {
				t.Fatalf("%s: bad quoted string %s", where, rest)
			}
		}
		switch verb {
		case "@submits":
			if want, _ := strconv.Atoi(rest); len(msgs) != want {
				t.Errorf("%s: %d messages submitted, want %d", where, len(msgs), want)
			}
		case "@contains":
			if !strings.Contains(msgs[n-1].content, q) {
				t.Errorf("%s: message %d lacks %q:\n%s", where, n, q, msgs[n-1].content)
			}
		case "@lacks":
			if strings.Contains(msgs[n-1].content, q) {
				t.Errorf("%s: message %d has %q:\n%s", where, n, q, msgs[n-1].content)
			}
		case "@received":
			if !strings.Contains(msgs[n-1].msg.Received, q) {
				t.Errorf("%s: Received lacks %q:\n%s", where, q, msgs[n-1].msg.Received)
			}
		case "@envelope":
			if env := fmt.Sprintf("%+v", msgs[n-1].msg); !strings.Contains(env, q) {
				t.Errorf("%s: envelope lacks %q:\n%s", where, q, env)
			}
		case "@log":
			if !strings.Contains(ts.log.String(), q) {
				t.Errorf("%s: log lacks %q:\n%s", where, q, ts.log)
			}
		case "@nolog":
			if strings.Contains(ts.log.String(), q) {
				t.Errorf("%s: log has %q:\n%s", where, q, ts.log)
			}
		default:
			t.Fatalf("%s: unknown directive %s", where, verb)
		}
	}
}

func setOption(t *testing.T, o *Options, where, kv string) {
	k, v, _ := strings.Cut(kv, "=")
	n, _ := strconv.Atoi(v)
	switch k {
	case "size":
		o.MessageSizeLimit = int64(n)
	case "rcptlimit":
		o.RecipientLimit = n
	case "hard":
		o.HardErrorLimit = n
	case "soft":
		o.SoftErrorLimit = n
	case "junk":
		o.JunkCommandLimit = n
	case "conns":
		o.ConnLimit = n
	case "linelimit":
		o.LineLengthLimit = n
	case "vrfy":
		o.DisableVRFY = v == "off"
	case "smtputf8":
		o.SMTPUTF8 = v == "on"
	case "lmtp":
		o.LMTP = v == "on"
	case "helo_required":
		o.HeloRequired = v == "on"
	case "requiretls":
		o.RequireTLS = v == "on"
	case "tls":
		o.TLS = &tls.Config{Certificates: []tls.Certificate{testCert(t)}}
	case "bare":
		switch v {
		case "normalize":
			o.BareNewline = BareNewlineNormalize
		case "reject":
			o.BareNewline = BareNewlineReject
		case "allow":
			o.BareNewline = BareNewlineAllow
		default:
			t.Fatalf("%s: bad bare= %q", where, v)
		}
	case "auth":
		o.Auth = &fakeAuth{}
	case "auth_limit":
		o.Auth = &fakeAuth{limit: n}
	case "auth_tls_only":
		o.AuthTLSOnly = v == "on"
	case "auth_header":
		o.AuthenticatedHeader = v == "on"
	case "broken_auth":
		o.BrokenAuthClients = v == "on"
	case "auth_exempt":
		exempt := v == "on"
		o.AuthExempt = func(netip.Addr) bool { return exempt }
	case "sasl_security":
		sec, err := ParseSASLSecurity(v)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		o.AuthSecurity = sec
	case "auth_response_limit":
		o.AuthResponseLimit = n
	case "wrapper":
		o.WrapperMode = v == "on"
	case "bare_exempt":
		exempt := v == "on"
		o.BareNewlineExempt = func(netip.Addr) bool { return exempt }
	default:
		t.Fatalf("%s: unknown option %q", where, k)
	}
}
