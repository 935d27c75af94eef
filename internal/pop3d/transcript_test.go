package pop3d

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTranscripts runs the dialogues in testdata/*.txt against a real
// server on loopback, over a memStore holding fixture as bob's INBOX.
// Lines:
//
//	# comment
//	@opt name=value   tlsauthonly=yes|no, wrapper=yes, notls=yes,
//	                  badlimit=N, linelimit=N (before the first C:/S:)
//	C: text           client sends text and CRLF (consecutive C:/R:
//	R: "go-quoted"    lines go out in one write: pipelining)
//	S: text           the next response line must be exactly text
//	@tls              the client starts TLS (after +OK to STLS)
//	@closed           the server must have closed the connection
//	@uids 1 2 5       bob's INBOX holds these UIDs once the session ended
//	@flags UID f...   message UID has exactly these flags then
//	@log "q"          the mail log contains q (@nolog: does not)
//
// The assertions after the dialogue run once the session has ended.
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
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
	opt := testOptions(t)
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
	srv, st := newMemServer(t, opt)
	ts := startServer(t, srv)
	raw, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// A safety net against a hung test, not an assertion on timing.
	raw.SetDeadline(time.Now().Add(60 * time.Second))
	var c net.Conn = raw
	if opt.WrapperMode {
		tc := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
		if err := tc.Handshake(); err != nil {
			t.Fatalf("wrapper-mode handshake: %v", err)
		}
		c = tc
	}
	r := bufio.NewReader(c)
	var pending []string
	sendPending := func() {
		if len(pending) > 0 {
			if _, err := io.WriteString(c, strings.Join(pending, "")); err != nil {
				t.Fatalf("write: %v", err)
			}
			pending = nil
		}
	}
	var after []string
	for ; i < len(lines); i++ {
		where := fmt.Sprintf("%s:%d", file, i+1)
		l := strings.TrimRight(lines[i], "\r")
		switch {
		case strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "C: ") || l == "C:":
			pending = append(pending, strings.TrimPrefix(strings.TrimPrefix(l, "C:"), " ")+"\r\n")
		case strings.HasPrefix(l, "R: "):
			s, err := strconv.Unquote(strings.TrimPrefix(l, "R: "))
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			pending = append(pending, s)
		case strings.HasPrefix(l, "S: ") || l == "S:":
			sendPending()
			want := strings.TrimPrefix(strings.TrimPrefix(l, "S:"), " ")
			got, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("%s: want %q, read: %v", where, want, err)
			}
			if !strings.HasSuffix(got, "\r\n") {
				t.Fatalf("%s: line %q does not end in CRLF", where, got)
			}
			if got = strings.TrimSuffix(got, "\r\n"); got != want {
				t.Fatalf("%s:\n got %q\nwant %q", where, got, want)
			}
		case l == "@tls":
			sendPending()
			tc := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
			if err := tc.Handshake(); err != nil {
				t.Fatalf("%s: handshake: %v", where, err)
			}
			c = tc
			r = bufio.NewReader(c)
		case l == "@closed":
			sendPending()
			if b, err := r.ReadString('\n'); err == nil {
				t.Fatalf("%s: connection still open, read %q", where, b)
			}
		case strings.HasPrefix(l, "@"):
			after = append(after, fmt.Sprintf("%d\x00%s", i+1, l))
		default:
			t.Fatalf("%s: bad transcript line %q", where, l)
		}
	}
	sendPending()
	c.Close()
	// Wait for the session to end (its log line) before the assertions.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(ts.log.String(), "Disconnected") && !strings.Contains(ts.log.String(), "Aborted login") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, a := range after {
		n, l, _ := strings.Cut(a, "\x00")
		where := file + ":" + n
		cmd, arg, _ := strings.Cut(l, " ")
		switch cmd {
		case "@uids":
			var got []string
			for _, m := range st.snapshot("/mail/bob") {
				got = append(got, strconv.Itoa(int(m.uid)))
			}
			if g := strings.Join(got, " "); g != arg {
				t.Errorf("%s: UIDs %q, want %q", where, g, arg)
			}
		case "@flags":
			uid, flags, _ := strings.Cut(arg, " ")
			found := false
			for _, m := range st.snapshot("/mail/bob") {
				if strconv.Itoa(int(m.uid)) == uid {
					found = true
					if g := strings.Join(m.flags, " "); g != flags {
						t.Errorf("%s: flags of %s %q, want %q", where, uid, g, flags)
					}
				}
			}
			if !found {
				t.Errorf("%s: no message %s", where, uid)
			}
		case "@log", "@nolog":
			q, err := strconv.Unquote(arg)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if has := strings.Contains(ts.log.String(), q); has != (cmd == "@log") {
				t.Errorf("%s: log contains %q: %v; log:\n%s", where, q, has, ts.log.String())
			}
		default:
			t.Fatalf("%s: unknown directive %q", where, l)
		}
	}
}

func setOption(t *testing.T, o *Options, where, kv string) {
	k, v, _ := strings.Cut(kv, "=")
	yes := slices.Contains([]string{"yes", "true", "1"}, v)
	switch k {
	case "tlsauthonly":
		o.TLSAuthOnly = yes
	case "wrapper":
		o.WrapperMode = yes
	case "notls":
		if yes {
			o.TLS = nil
		}
	case "badlimit", "linelimit":
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		if k == "badlimit" {
			o.BadCommandLimit = n
		} else {
			o.LineLimit = n
		}
	default:
		t.Fatalf("%s: unknown option %q", where, k)
	}
}
