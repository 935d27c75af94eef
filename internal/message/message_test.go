package message

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The address cases are Dovecot 2.3's answers for a From: header.
func TestAddressList(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"garbage here", `(("garbage here" NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))`},
		{"@@@", `((NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))`},
		{"plainword", `((NIL NIL "plainword" "MISSING_DOMAIN"))`},
		{"<@route.test,@r2.test:adl@src.test>", `((NIL "@route.test,@r2.test" "adl" "src.test"))`},
		{"a@b, ,c@d", `((NIL NIL "a" "b")(NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN")(NIL NIL "c" "d"))`},
		{"john@x.test (John Doe)", `(("John Doe" NIL "john" "x.test"))`},
		{`"a b"@x.test`, `((NIL NIL "a b" "x.test"))`},
		{"local@", `((NIL NIL "local" "MISSING_DOMAIN"))`},
		{"<>", `((NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))`},
		{"Name <local>", `(("Name" NIL "local" "MISSING_DOMAIN"))`},
		{"x@[1.2.3.4]", `((NIL NIL "x" "[1.2.3.4]"))`},
		{"g: a@b; trailing garbage", `((NIL NIL "g" NIL)(NIL NIL "a" "b")(NIL NIL NIL NIL))`},
		{"Mary Smith <mary@x.test", `(("Mary Smith" NIL "mary" "SYNTAX_ERROR"))`},
		{`"Giant; \"Big\" Box" <s@e.net>`, `(("Giant; \"Big\" Box" NIL "s" "e.net"))`},
		{"", "NIL"},
	} {
		if got := string(appendAddrs(nil, parseAddressList(c.in))); got != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}

func TestParseSection(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Section
		err  bool
	}{
		{in: "", want: Section{}},
		{in: "HEADER", want: Section{Specifier: "HEADER"}},
		{in: "text", want: Section{Specifier: "TEXT"}},
		{in: "1.2.3", want: Section{Path: []int{1, 2, 3}}},
		{in: "2.MIME", want: Section{Path: []int{2}, Specifier: "MIME"}},
		{in: "1.HEADER.FIELDS (From \"To\")", want: Section{Path: []int{1}, Specifier: "HEADER.FIELDS", Fields: []string{"From", "To"}}},
		{in: "HEADER.FIELDS.NOT (X-A)", want: Section{Specifier: "HEADER.FIELDS.NOT", Fields: []string{"X-A"}}},
		{in: "MIME", err: true},
		{in: "0", err: true},
		{in: "01", err: true},
		{in: "1.", err: true},
		{in: "1..2", err: true},
		{in: "HEADER.FIELDS", err: true},
		{in: "HEADER.FIELDS ()", err: true},
		{in: "HEADER.FIELDS (a:b)", err: true},
		{in: "TEXT extra", err: true},
		{in: "BOGUS", err: true},
		{in: "99999999999999999999", err: true},
	} {
		got, err := ParseSection(c.in)
		if (err != nil) != c.err {
			t.Errorf("%q: err %v", c.in, err)
			continue
		}
		if !c.err && !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %+v want %+v", c.in, got, c.want)
		}
	}
}

func load(t *testing.T, name string) ([]byte, *Part) {
	t.Helper()
	b, err := os.ReadFile("testdata/corpus/" + name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return b, p
}

// TestDecodedText: Header, BodyText and Date undo RFC 2047, transfer
// encodings and charsets (SEARCH).
func TestDecodedText(t *testing.T) {
	for _, c := range []struct {
		file, subject, from, body string
		date                      time.Time
	}{
		{"latin1.eml", "Grüße aus Köln", "André Müller <andre@example.de>", "Viele Grüße aus Köln,\r\nAndré\r\n", time.Date(2025, 3, 8, 8, 0, 0, 0, time.UTC)},
		{"iso2022jp.eml", "こんにちは", "市蔓 <shimin@example.jp>", "こんにちは\r\n", time.Date(2025, 3, 9, 1, 0, 0, 0, time.UTC)},
		{"cp1252.eml", "Price \u0080 20", "Zoë “Z” Smith <zoe@example.com>", "It costs €20 – “cheap”.\r\n", time.Date(2025, 3, 10, 16, 0, 0, 0, time.UTC)},
		{"alternative.eml", "Weekly deals – save 20%", `"Shop, The" <news@shop.example>`, "Weekly deals – save 20% on everything.\r\nVisit https://shop.example/deals", time.Date(2025, 3, 4, 13, 0, 0, 0, time.UTC)},
		{"bad-base64.eml", "Broken base64", "Pat <pat@example.com>", "Hello wor", time.Date(2025, 3, 13, 7, 0, 0, 0, time.UTC)},
		{"simple.eml", "Lunch on Thursday?", "Alice Example <alice@example.org>", "Hi Bob,", time.Date(2025, 3, 3, 9, 15, 0, 0, time.UTC)},
		{"groups.eml", "", `"Joe Q. Public" <john.q.public@example.com>`, "Body without date header.", time.Time{}},
	} {
		b, p := load(t, c.file)
		r := bytes.NewReader(b)
		if s, _ := p.Header(r, "subject"); len(s) != 1 || s[0] != c.subject {
			t.Errorf("%s: subject %q, want %q", c.file, s, c.subject)
		}
		if s, _ := p.Header(r, "From"); len(s) != 1 || s[0] != c.from {
			t.Errorf("%s: from %q, want %q", c.file, s, c.from)
		}
		var texts []string
		if err := p.BodyText(r, func(s string) bool { texts = append(texts, s); return true }); err != nil {
			t.Fatal(err)
		}
		if len(texts) == 0 || !strings.HasPrefix(texts[0], c.body) {
			t.Errorf("%s: body %q, want prefix %q", c.file, texts, c.body)
		}
		if d := p.Date(r); !d.Equal(c.date) {
			t.Errorf("%s: date %v, want %v", c.file, d, c.date)
		}
		h, err := p.HeaderText(r)
		if err != nil || !strings.Contains(h, "Subject: "+c.subject+"\n") {
			t.Errorf("%s: header text %q %v", c.file, h, err)
		}
	}
}

func TestBodyTextEnclosedAndStop(t *testing.T) {
	b, p := load(t, "forwarded.eml")
	var texts []string
	p.BodyText(bytes.NewReader(b), func(s string) bool { texts = append(texts, s); return true })
	if len(texts) != 4 || !strings.Contains(texts[1], "Subject: Meeting notes") || !strings.Contains(texts[3], "<ol>") {
		t.Errorf("texts: %q", texts)
	}
	n := 0
	p.BodyText(bytes.NewReader(b), func(string) bool { n++; return false })
	if n != 1 {
		t.Errorf("fn called %d times after returning false", n)
	}
}

func TestParamsRFC2231(t *testing.T) {
	_, p := load(t, "rfc2231.eml")
	if got := p.Parts[1].Params["name"]; got != "résumé.txt" {
		t.Errorf("name = %q", got)
	}
	if got := p.Parts[2].Params["name"]; got != "very long file name.txt" {
		t.Errorf("continued name = %q", got)
	}
	if p.Parts[0].Params["charset"] != "us-ascii" || p.Parts[0].Type != "text" {
		t.Errorf("part 1: %+v", p.Parts[0])
	}
}

func TestDigestDefault(t *testing.T) {
	_, p := load(t, "digest.eml")
	if len(p.Parts) != 3 || p.Parts[0].Message == nil || p.Parts[1].Type != "text" || p.Parts[2].Subtype != "rfc822" {
		t.Fatalf("digest parts wrong")
	}
}

// TestLimits: hostile nesting, part counts and headers stay bounded and
// give well-formed output.
func TestLimits(t *testing.T) {
	var deep strings.Builder
	for i := 0; i < 3*MaxDepth; i++ {
		deep.WriteString("Content-Type: multipart/mixed; boundary=b" + strings.Repeat("x", i) + "\r\n\r\n--b" + strings.Repeat("x", i) + "\r\n")
	}
	var rfc strings.Builder
	for i := 0; i < 3*MaxDepth; i++ {
		rfc.WriteString("Content-Type: message/rfc822\r\n\r\n")
	}
	var many strings.Builder
	many.WriteString("Content-Type: multipart/mixed; boundary=b\r\n\r\n")
	for i := 0; i < MaxParts+50; i++ {
		many.WriteString("--b\r\n\r\nx\r\n")
	}
	bigHeader := "Subject: " + strings.Repeat("a", 2*MaxHeader) + "\r\nContent-Type: text/html\r\n\r\nbody\r\n"
	for name, msg := range map[string]string{"deep": deep.String(), "rfc822": rfc.String(), "many": many.String(), "header": bigHeader} {
		p, err := Parse(strings.NewReader(msg), int64(len(msg)))
		if err != nil {
			t.Fatal(err)
		}
		for _, ext := range []bool{true, false} {
			if _, err := canonical(p.BodyStructure(ext)); err != nil {
				t.Errorf("%s: BODYSTRUCTURE does not parse: %v", name, err)
			}
		}
		if _, err := canonical(p.Envelope()); err != nil {
			t.Errorf("%s: ENVELOPE does not parse: %v", name, err)
		}
		if depth(p) > MaxDepth+1 || count(p) > MaxParts+1 {
			t.Errorf("%s: depth %d, parts %d", name, depth(p), count(p))
		}
	}
}

func depth(p *Part) int {
	d := 0
	for _, c := range append(p.Parts, p.Message) {
		if c != nil {
			d = max(d, depth(c))
		}
	}
	return d + 1
}

func count(p *Part) int {
	n := 1
	for _, c := range append(p.Parts, p.Message) {
		if c != nil {
			n += count(c)
		}
	}
	return n
}
