package pop3d

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// FuzzSession feeds random input to a whole session over an in-memory
// maildrop: nothing may panic or hang, every response line ends in CRLF,
// and the maildrop only ever loses messages the session marked.
func FuzzSession(f *testing.F) {
	for _, seed := range []string{
		"CAPA\r\nQUIT\r\n",
		"USER bob\r\nPASS bob secret\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 2\r\nTOP 3 1\r\nDELE 1\r\nRSET\r\nDELE 2\r\nQUIT\r\n",
		"AUTH PLAIN\r\nAGJvYgBib2Igc2VjcmV0\r\nLIST 1 2\r\nTOP 1 x\r\nRETR 99999999999\r\nQUIT\r\n",
		"AUTH PLAIN *\r\n*\r\nAUTH LOGIN\r\nYm9i\r\nYm9iIHNlY3JldA==\r\nDELE 3\r\n",
		"STLS\r\nUSER bob\r\n",
		"user bob\npass bob secret\nretr 1\n",
	} {
		f.Add([]byte(seed))
	}
	srv, st := newMemServer(f, testOptions(f))
	srv.Opts.BadCommandLimit = 0
	srv.init()
	f.Fuzz(func(t *testing.T, in []byte) {
		st.mu.Lock()
		st.boxes["/mail/bob"] = append([]memMessage(nil), fixture...)
		st.mu.Unlock()
		c := &fakeConn{in: bytes.NewReader(append(in, "\r\nQUIT\r\n"...))}
		srv.ServeConn(context.Background(), c)
		resp := c.out.Bytes()
		if len(resp) > 0 && !bytes.HasSuffix(resp, []byte("\r\n")) {
			t.Fatalf("response does not end in CRLF: %q", resp)
		}
		if n := len(st.snapshot("/mail/bob")); n > len(fixture) {
			t.Fatalf("%d messages", n)
		}
	})
}

// fakeConn is a connection whose client sent in and then closed its side.
type fakeConn struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (c *fakeConn) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c *fakeConn) Write(p []byte) (int, error) { return c.out.Write(p) }
func (c *fakeConn) Close() error                { return nil }
func (c *fakeConn) LocalAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 110} }
func (c *fakeConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (c *fakeConn) SetDeadline(t time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(t time.Time) error { return nil }

// FuzzWriteMessage checks the byte-stuffing against its inverse: undoing
// it gives the message with CRLF line endings, and the end line appears
// only at the end.
func FuzzWriteMessage(f *testing.F) {
	f.Add([]byte("A: b\r\n\r\n.x\r\n.\r\n"), int64(-1))
	f.Add([]byte("A: b\n\n..\n"), int64(1))
	f.Add([]byte("no newline"), int64(0))
	f.Fuzz(func(t *testing.T, msg []byte, lines int64) {
		if lines < -1 {
			lines = -1
		}
		var b bytes.Buffer
		w := bufio.NewWriter(&b)
		if _, err := writeMessage(w, bytes.NewReader(msg), lines); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		out := b.String()
		body, ok := strings.CutSuffix(out, ".\r\n")
		if !ok {
			t.Fatalf("no end line: %q", out)
		}
		if strings.Contains("\r\n"+body, "\r\n.\r\n") {
			t.Fatalf("end line inside the response: %q", out)
		}
		if lines >= 0 {
			return
		}
		var want strings.Builder
		for _, l := range strings.SplitAfter(string(msg), "\n") {
			if l == "" {
				continue
			}
			l = strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r")
			want.WriteString(l + "\r\n")
		}
		var got strings.Builder
		for _, l := range strings.SplitAfter(body, "\r\n") {
			if l != "" {
				got.WriteString(strings.TrimPrefix(l, "."))
			}
		}
		if got.String() != want.String() {
			t.Fatalf("unstuffed %q, want %q", got.String(), want.String())
		}
	})
}

// FuzzParseMsgArgs: no panic, and a success round-trips.
func FuzzParseMsgArgs(f *testing.F) {
	f.Add("1", true)
	f.Add("2 10", true)
	f.Add("x", false)
	f.Fuzz(func(t *testing.T, args string, withLines bool) {
		parseMsgArgs(args, withLines)
		parseCommand(args)
	})
}
