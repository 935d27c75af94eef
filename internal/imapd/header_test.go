package imapd

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"mailhorn/internal/message"
)

func TestContainsFold(t *testing.T) {
	tests := []struct {
		h, needle string
		want      bool
	}{
		{"Quarterly report", "quarterly", true},
		{"QUARTERLY", "rterl", true},
		{"quarter", "quarterly", false},
		{"anything", "", true},
		{"", "", true},
		{"", "a", false},
		{"Grüße aus Zürich", "zürich", true},
		{"GRÜSSE", "grüsse", true},
		{"ÄRGER", "ärger", true},
		{"Ärger", "arger", false},
		{"caf\xe9 latte", "\ufffd lat", true}, // not UTF-8: U+FFFD, as strings.ToLower
		{"İstanbul", "istanbul", true},        // U+0130 lowers to i
		{"Kelvin \u212a", "k", true},
		{"ǅ digraph", "ǆ", true},
	}
	for _, tt := range tests {
		ref := strings.Contains(strings.ToLower(tt.h), foldString(tt.needle))
		if ref != tt.want {
			t.Fatalf("test table wrong for %q %q", tt.h, tt.needle)
		}
		if got := containsFold(tt.h, foldString(tt.needle)); got != tt.want {
			t.Errorf("containsFold(%q, %q) = %v, want %v", tt.h, tt.needle, got, tt.want)
		}
		if got := containsFold([]byte(tt.h), foldString(tt.needle)); got != tt.want {
			t.Errorf("containsFold([]byte %q, %q) = %v, want %v", tt.h, tt.needle, got, tt.want)
		}
	}
}

// FuzzContainsFold: containsFold is strings.Contains(strings.ToLower(h),
// needle) for any h and folded needle.
func FuzzContainsFold(f *testing.F) {
	f.Add("Grüße aus Zürich", "ZÜR")
	f.Add("caf\xe9", "\xe9")
	f.Add("İi", "i̇")
	f.Fuzz(func(t *testing.T, h, needle string) {
		n := foldString(needle)
		want := strings.Contains(strings.ToLower(h), n)
		if got := containsFold(h, n); got != want {
			t.Fatalf("containsFold(%q, %q) = %v, want %v", h, n, got, want)
		}
		if got := containsFold([]byte(h), n); got != want {
			t.Fatalf("containsFold([]byte %q, %q) = %v, want %v", h, n, got, want)
		}
	})
}

func TestSearchRecord(t *testing.T) {
	hdr := []byte("Received: x\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nTo: a@b,\r\n c@d\r\nTo: e@f\r\nX-To: no\r\nDATE: Mon, 7 Feb 1994 21:52:25 -0800\r\n\r\n")
	rec := buildSearchRecord(hdr)
	if !validSearchRecord(rec) {
		t.Fatalf("record %q not valid", rec)
	}
	var to []string
	eachValue(rec, efTo, func(v []byte) bool { to = append(to, string(v)); return true })
	if want := []string{"a@b, c@d", "e@f"}; !slices.Equal(to, want) {
		t.Errorf("To values %q, want %q", to, want)
	}
	if v, ok := firstValue(rec, efSubject); !ok || v != "Grüße" {
		t.Errorf("Subject %q %v", v, ok)
	}
	if v, ok := firstValue(rec, efDate); !ok || message.ParseDate(v).IsZero() {
		t.Errorf("Date %q %v", v, ok)
	}
	if _, ok := firstValue(rec, efCc); ok {
		t.Error("Cc found in a header without one")
	}
	for _, bad := range [][]byte{nil, {}, {2}, {1, 99, 0}, {1, 0, 5, 'a'}, {1, 0, 0x80}} {
		if validSearchRecord(bad) {
			t.Errorf("record %q accepted", bad)
		}
	}
}

// FuzzSearchRecord: a cached record read back from the index (any bytes)
// is either refused or read without panic.
func FuzzSearchRecord(f *testing.F) {
	f.Add(buildSearchRecord([]byte("Subject: a\r\nFrom: b\r\n\r\n")))
	f.Add([]byte{1, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, rec []byte) {
		if !validSearchRecord(rec) {
			return
		}
		for i := range envFields {
			eachValue(rec, i, func([]byte) bool { return true })
			firstValue(rec, i)
		}
	})
}

// readerAtOnly hides Read, as a store that serves files with ReadAt.
type readerAtOnly struct{ r *bytes.Reader }

func (r readerAtOnly) Read([]byte) (int, error)                { panic("Read called") }
func (r readerAtOnly) ReadAt(p []byte, off int64) (int, error) { return r.r.ReadAt(p, off) }

func TestReadHeader(t *testing.T) {
	long := "X-Long: " + strings.Repeat("a", 3*hdrBufSize) + "\r\n"
	huge := strings.Repeat("X-Fill: "+strings.Repeat("b", 990)+"\r\n", message.MaxHeader/1000+10)
	tests := []struct{ name, in, want string }{
		{"simple", "A: b\r\n\r\nbody", "A: b\r\n\r\n"},
		{"bare LF", "A: b\n\nbody", "A: b\n\n"},
		{"no body", "A: b\r\n", "A: b\r\n"},
		{"empty header", "\r\nbody", "\r\n"},
		{"long line", long + "\r\nbody", long + "\r\n"},
		{"huge", huge + "\r\nbody", huge[:message.MaxHeader]},
	}
	for _, tt := range tests {
		for _, rd := range []struct {
			kind string
			r    io.Reader
		}{
			{"reader", strings.NewReader(tt.in)},
			{"one byte", iotest.OneByteReader(strings.NewReader(tt.in))},
			{"half", iotest.HalfReader(strings.NewReader(tt.in))},
			{"readerAt", readerAtOnly{bytes.NewReader([]byte(tt.in))}},
		} {
			got, err := readHeader(rd.r, nil)
			if err != nil {
				t.Fatalf("%s %s: %v", tt.name, rd.kind, err)
			}
			if string(got) != tt.want {
				t.Errorf("%s %s: got %d bytes %.40q, want %d bytes", tt.name, rd.kind, len(got), got, len(tt.want))
			}
		}
	}
	if _, err := readHeader(iotest.ErrReader(errTest), nil); err != errTest {
		t.Errorf("read error: %v", err)
	}
}

// The messages of TestSearchHeaderDifferential: encoded words, folding,
// repeated and missing fields, 8-bit bytes.
var searchCorpus = []string{
	"From: =?UTF-8?Q?Zo=C3=AB_Wei=C3=9F?= <zoe@example.test>\nTo: a@example.test,\n\tb@example.test\nTo: c@example.test\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_Z=C3=BCrich?=\nDate: Mon, 7 Feb 1994 21:52:25 -0800\nX-Custom: Foo\n bar baz\nMessage-ID: <1@example.test>\n\nbody quarterly\n",
	"From: Bob <bob@example.test>\nSender: secretary@example.test\nReply-To: list@example.test\nSubject: Quarterly\n report\nCc: carol@example.test\nBcc: dave@example.test\nIn-Reply-To: <1@example.test>\nDate: Tue, 8 Feb 1994 10:00:00 +0000\n\nno\n",
	"Subject: caf\xe9 CAF\xc9\nFrom: \"Quoted, Name\" <q@example.test>\nX-Custom:\n\nbody\n",
	"Subject: two\nSubject: Quarterly second\ngarbage line\n continued\nTo: undisclosed-recipients:;\nDate: someday\n\n",
	"X-Only: nothing else\n\n",
}

// TestSearchHeaderDifferential checks SEARCH HEADER against the
// definition (RFC 9051: the field's decoded value contains the string,
// ignoring case), computed here with message.Parse and Part.Header, for
// fields the search record holds and others, before the record exists,
// after SEARCH made it, and after FETCH ENVELOPE; and SORT from the
// record.
func TestSearchHeaderDifferential(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.login(t)
	expect(t, c.do("c CREATE B"), `c OK .*`)
	for _, m := range searchCorpus {
		expect(t, c.appendMsg("INBOX", "", m), `ap OK .*`)
		expect(t, c.appendMsg("B", "", m), `ap OK .*`)
	}
	fields := []string{"Subject", "From", "To", "Cc", "Bcc", "Date", "Message-ID", "In-Reply-To", "Reply-To", "Sender", "X-Custom", "Received", "X-Only"}
	needles := []string{"", "quarterly", "ZÜRICH", "weiß", "zoe", "c@example", "b@example.test", "foo bar", "caf\u00e9", "secretary", "list@", "example", "1994", "<1@", "quoted, name", "second", "continued", "nothing"}
	want := func(field, needle string) string {
		var hits []string
		for i, m := range searchCorpus {
			b := []byte(strings.ReplaceAll(m, "\n", "\r\n"))
			p, err := message.Parse(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			vals, _ := p.Header(bytes.NewReader(b), field)
			for _, v := range vals {
				if strings.Contains(strings.ToLower(v), strings.ToLower(needle)) {
					hits = append(hits, fmt.Sprint(i+1))
					break
				}
			}
		}
		return strings.TrimSpace("* SEARCH " + strings.Join(hits, " "))
	}
	check := func(round string) {
		t.Helper()
		for _, f := range fields {
			for _, n := range needles {
				l := c.do(fmt.Sprintf("s SEARCH CHARSET UTF-8 HEADER %s {%d+}\r\n%s", f, len(n), n))
				if w := want(f, n); l[0] != w {
					t.Errorf("%s: HEADER %s %q: %q, want %q", round, f, n, l[0], w)
				}
			}
		}
		expect(t, c.do("s1 SEARCH SUBJECT quarterly"), `\* SEARCH 2 4`)
		expect(t, c.do("s2 SEARCH SENTON 8-Feb-1994"), `\* SEARCH 2`)
		expect(t, c.do("s3 SEARCH SENTBEFORE 1-Jan-2000"), `\* SEARCH 1 2`)
		expect(t, c.do("s4 SORT (SUBJECT) UTF-8 ALL"), `\* SORT 5 3 1 2 4`)
		expect(t, c.do("s5 SORT (FROM) UTF-8 ALL"), `\* SORT 4 5 2 3 1`)
		expect(t, c.do("s6 SORT (DATE) UTF-8 ALL"), `\* SORT 1 2 3 4 5`)
	}
	c.do("s SELECT INBOX")
	check("no record")
	check("record from SEARCH")
	expect(t, c.do("f FETCH 1:* ENVELOPE"), `f OK .*`)
	check("after FETCH ENVELOPE")
	c.do("s SELECT B")
	expect(t, c.do("f FETCH 1:* ENVELOPE"), `f OK .*`)
	check("record from FETCH ENVELOPE")
	// Another session sees the records in the index.
	c = ts.login(t)
	c.do("s SELECT B")
	check("another session")
}
