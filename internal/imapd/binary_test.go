package imapd

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailhorn/internal/store"
)

// binaryBlob is the content of the base64 part of binaryMsg: it holds a
// NUL, so BINARY sends it as a literal8.
var binaryBlob = []byte("\x00\x01PNG\r\n\x1a\n\xff\xfe end")

// binaryMsg has a part in each transfer encoding FETCH BINARY meets
// (lines end in LF here; the tests send them with CRLF).
var binaryMsg = `From: Alice <alice@example.test>
To: bob@example.test
Subject: binary parts
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

caf=C3=A9 with a soft =
break
line two=3D
--outer
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

` + base64.StdEncoding.EncodeToString(binaryBlob) + `
--outer
Content-Type: text/plain
Content-Transfer-Encoding: BASE64

aGVsbG8g
d29ybGQ=
--outer
Content-Type: application/x-foo
Content-Transfer-Encoding: x-uuencode

begin 644 foo
end
--outer
Content-Type: message/rfc822

Subject: inner
Content-Transfer-Encoding: base64

aW5uZXIgYm9keQ==
--outer
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain

plain
--alt--
--outer
Content-Type: text/plain
Content-Transfer-Encoding: 8bit

eight bit
--outer--
`

// TestFetchBinary covers FETCH BINARY, BINARY.PEEK and BINARY.SIZE (RFC
// 3516, RFC 9051 §6.4.5) over a raw session: decoding of quoted-printable
// and base64, literal8 for content with NUL, partial ranges on the decoded
// data, UNKNOWN-CTE for an unknown encoding and for a multipart, empty
// content for a part that does not exist, BAD for sections other than
// part numbers, \Seen set only without .PEEK, and the decoded size cached.
// Part 1 of a part that is not a multipart is the part itself, as for
// BODY[] (BINARY.SIZE[2.1]).
func TestFetchBinary(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.login(t)
	expect(t, c.do("c CAPABILITY"), `\* CAPABILITY IMAP4rev1 IMAP4rev2 .* BINARY .*`, `c OK .*`)
	expect(t, c.appendMsg("INBOX", "", binaryMsg), `ap OK \[APPENDUID \d+ 1\] .*`)
	expect(t, c.appendMsg("INBOX", "", msg3), `ap OK \[APPENDUID \d+ 2\] .*`)
	c.do("s SELECT INBOX")

	lit := func(s string) string { return fmt.Sprintf("{%d}\r\n%s", len(s), s) }
	lit8 := func(s string) string { return "~" + lit(s) }
	qp := "café with a soft break\r\nline two="
	crlf := strings.ReplaceAll(binaryMsg, "\n", "\r\n")
	tests := []struct {
		cmd   string
		wants []string // each a substring of the response
	}{
		{"f1 FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])", []string{"BINARY[1] " + lit(qp), fmt.Sprintf("BINARY.SIZE[1] %d)", len(qp)), "f1 OK"}},
		{"f2 FETCH 1 BINARY.PEEK[2]", []string{"BINARY[2] " + lit8(string(binaryBlob)), "f2 OK"}},
		{"f3 FETCH 1 BINARY.SIZE[2]", []string{fmt.Sprintf("(BINARY.SIZE[2] %d)", len(binaryBlob)), "f3 OK"}},
		{"f4 FETCH 1 (BINARY.PEEK[3] BINARY.PEEK[3]<6.100> BINARY.PEEK[2]<2.3>)", []string{"BINARY[3] " + lit("hello world"), "BINARY[3]<6> " + lit("world"), "BINARY[2]<2> " + lit("PNG"), "f4 OK"}},
		{"f5 FETCH 1 BINARY.PEEK[2]<0.1>", []string{"BINARY[2]<0> " + lit8("\x00"), "f5 OK"}},
		{"f6 FETCH 1 BINARY.PEEK[3]<100.5>", []string{"BINARY[3]<100> {0}\r\n)", "f6 OK"}},
		{"f7 FETCH 1 BINARY.PEEK[4]", []string{"f7 NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding."}},
		{"f8 FETCH 1 BINARY.SIZE[4]", []string{"f8 NO [UNKNOWN-CTE]"}},
		{"f9 FETCH 1 BINARY.PEEK[6]", []string{"f9 NO [UNKNOWN-CTE] Can't decode a multipart section."}},
		{"f10 FETCH 1 (BINARY.PEEK[5] BINARY.PEEK[5.1] BINARY.SIZE[5.1] BINARY.PEEK[6.1])", []string{
			"BINARY[5] " + lit("Subject: inner\r\nContent-Transfer-Encoding: base64\r\n\r\naW5uZXIgYm9keQ=="),
			"BINARY[5.1] " + lit("inner body"), "BINARY.SIZE[5.1] 10", "BINARY[6.1] " + lit("plain"), "f10 OK"}},
		{"f11 FETCH 1 (BINARY.PEEK[7] BINARY.PEEK[9] BINARY.SIZE[9] BINARY.SIZE[2.1])", []string{"BINARY[7] " + lit("eight bit"), "BINARY[9] {0}\r\n", "BINARY.SIZE[9] 0", fmt.Sprintf("BINARY.SIZE[2.1] %d)", len(binaryBlob)), "f11 OK"}},
		{"f12 FETCH 1 (BINARY.PEEK[] BINARY.SIZE[])", []string{"BINARY[] " + lit(crlf), fmt.Sprintf("BINARY.SIZE[] %d", len(crlf)), "f12 OK"}},
		{"f13 FETCH 2 BINARY.PEEK[1]", []string{"BINARY[1] {154}\r\nAn apple a day", "f13 OK"}},
		{"f14 FETCH 1 FLAGS", []string{"FLAGS ())", "f14 OK"}},
		{"f15 UID FETCH 1 BINARY[1]<0.4>", []string{"(UID 1 BINARY[1]<0> " + lit("caf\xc3") + " FLAGS (\\Seen))", "f15 OK"}},
		// Bad syntax: BINARY takes part numbers only, BINARY.SIZE no range.
		{"b1 FETCH 1 BINARY[1.MIME]", []string{"b1 BAD"}},
		{"b2 FETCH 1 BINARY.PEEK[HEADER]", []string{"b2 BAD"}},
		{"b3 FETCH 1 BINARY.SIZE[1]<0.5>", []string{"b3 BAD"}},
		{"b4 FETCH 1 BINARY.PEEK[1]<0.0>", []string{"b4 BAD"}},
		{"b5 FETCH 1 BINARY.PEEK[0]", []string{"b5 BAD"}},
		{"b6 FETCH 1 BINARY.SIZE", []string{"b6 BAD"}},
	}
	for _, tt := range tests {
		got := strings.Join(c.do(tt.cmd), "\n")
		for _, w := range tt.wants {
			if !strings.Contains(got, w) {
				t.Errorf("%s: no %q in\n%q", tt.cmd, w, got)
			}
		}
	}
	// A failed BINARY sends nothing of the message it failed on.
	got := c.do("n1 FETCH 1:2 (UID BINARY.PEEK[4])")
	refuse(t, got, `\* 1 FETCH .*`)
	expect(t, got, `n1 NO \[UNKNOWN-CTE\] .*`)

	// The decoded sizes are in the mailbox cache.
	u, err := ts.store.OpenUser(context.Background(), ts.userRoot("alice@example.test"), store.Quota{})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := u.Open(context.Background(), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	if v, ok := mb.Cache(1, "binary.size[2]"); !ok || string(v) != fmt.Sprint(len(binaryBlob)) {
		t.Errorf("cache binary.size[2] = %q %v", v, ok)
	}
}

// TestAppendLiteral8 stores messages sent as literal8 (RFC 3516 §4.4),
// synchronising and not, with NUL, 8-bit bytes and bare LFs in a binary
// part: the part is stored in base64 (as Dovecot converts it), so BINARY
// gives its bytes back exactly, bare LFs included.
func TestAppendLiteral8(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.login(t)
	body := "\x00\xff\x01 data\r\nmore\nbare LF\x00"
	msg := "Subject: raw\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding:\r\n binary\r\n\r\n" + body
	c.send(fmt.Sprintf("a1 APPEND INBOX ~{%d}", len(msg)))
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("continuation: %q", l)
	}
	c.conn.Write([]byte(msg + "\r\n"))
	expect(t, c.until("a1"), `a1 OK \[APPENDUID \d+ 1\] .*`)
	c.send(fmt.Sprintf("a2 APPEND INBOX ~{%d+}", len(msg)))
	c.conn.Write([]byte(msg + "\r\n"))
	expect(t, c.until("a2"), `a2 OK \[APPENDUID \d+ 2\] .*`)
	c.do("s SELECT INBOX")
	stored := "Subject: raw\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString([]byte(body))
	got := strings.Join(c.do("f FETCH 1:2 (BINARY.PEEK[1] BODY.PEEK[])"), "\n")
	for _, w := range []string{
		fmt.Sprintf("* 1 FETCH (BINARY[1] ~{%d}\r\n%s BODY[] {%d}\r\n%s)", len(body), body, len(stored), stored),
		fmt.Sprintf("* 2 FETCH (BINARY[1] ~{%d}\r\n%s", len(body), body),
	} {
		if !strings.Contains(got, w) {
			t.Errorf("no %q in\n%q", w, got)
		}
	}
}

// TestGoIMAPBinary checks FETCH BINARY with go-imap's client, an
// independent decoder of the responses (literal8 included).
func TestGoIMAPBinary(t *testing.T) {
	ts := startServer(t, nil)
	c, err := imapclient.DialInsecure(ts.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice@example.test", "secret").Wait(); err != nil {
		t.Fatal(err)
	}
	if !c.Caps().Has(imap.CapBinary) {
		t.Errorf("no BINARY in %v", c.Caps())
	}
	m := strings.ReplaceAll(binaryMsg, "\n", "\r\n")
	ap := c.Append("INBOX", int64(len(m)), nil)
	ap.Write([]byte(m))
	ap.Close()
	if _, err := ap.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	sections := map[int]string{1: "café with a soft break\r\nline two=", 2: string(binaryBlob), 3: "hello world", 7: "eight bit"}
	opts := &imap.FetchOptions{Flags: true}
	for p := range sections {
		opts.BinarySection = append(opts.BinarySection, &imap.FetchItemBinarySection{Part: []int{p}, Peek: true})
		opts.BinarySectionSize = append(opts.BinarySectionSize, &imap.FetchItemBinarySectionSize{Part: []int{p}})
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), opts).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("fetch: %v %d", err, len(msgs))
	}
	for p, want := range sections {
		if got := msgs[0].FindBinarySection(&imap.FetchItemBinarySection{Part: []int{p}}); !bytes.Equal(got, []byte(want)) {
			t.Errorf("BINARY[%d] = %q, want %q", p, got, want)
		}
		if got, ok := msgs[0].FindBinarySectionSize([]int{p}); !ok || got != uint32(len(want)) {
			t.Errorf("BINARY.SIZE[%d] = %d %v, want %d", p, got, ok, len(want))
		}
	}
	if len(msgs[0].Flags) != 0 {
		t.Errorf("BINARY.PEEK set flags %v", msgs[0].Flags)
	}
	// Without .PEEK, \Seen is set.
	msgs, err = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
		BinarySection: []*imap.FetchItemBinarySection{{Part: []int{3}}},
	}).Collect()
	if err != nil || len(msgs) != 1 || len(msgs[0].Flags) != 1 || msgs[0].Flags[0] != imap.FlagSeen {
		t.Errorf("BINARY[3]: %v %+v", err, msgs)
	}
	// UNKNOWN-CTE reaches the client as a NO with that code.
	_, err = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
		BinarySection: []*imap.FetchItemBinarySection{{Part: []int{4}, Peek: true}},
	}).Collect()
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Type != imap.StatusResponseTypeNo || ie.Code != imap.ResponseCodeUnknownCTE {
		t.Errorf("BINARY[4]: %v", err)
	}
}
