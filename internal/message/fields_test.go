package message

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sameAsParse checks that the header-block functions answer as Parse on
// the header block followed by Part.Header / Envelope / Date do.
func sameAsParse(t *testing.T, msg []byte) {
	t.Helper()
	end := HeaderEnd(msg)
	hdr := msg
	if end >= 0 {
		hdr = msg[:end]
	}
	p, err := Parse(bytes.NewReader(hdr), int64(len(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	full, err := Parse(bytes.NewReader(msg), int64(len(msg)))
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(hdr)
	for _, name := range []string{"Subject", "from", "TO", "cc", "Date", "Message-ID", "X-Other", "Received", "content-type"} {
		want, _ := p.Header(r, name)
		if got := FieldValues(hdr, name); !slices.Equal(got, want) {
			t.Errorf("FieldValues(%q) = %q, Part.Header = %q\nheader %q", name, got, want, hdr)
		}
	}
	if got, want := HeaderEnvelope(hdr), full.Envelope(); !bytes.Equal(got, want) {
		t.Errorf("HeaderEnvelope = %s\nParse(message).Envelope = %s", got, want)
	}
	var date string
	if v := FieldValues(hdr, "Date"); len(v) > 0 {
		date = v[0]
	}
	if got, want := ParseDate(date), p.Date(r); !got.Equal(want) {
		t.Errorf("ParseDate = %v, Part.Date = %v", got, want)
	}
}

func TestHeaderFields(t *testing.T) {
	tests := []struct{ name, msg string }{
		{"plain", "From: a@b\r\nSubject: hello\r\nTo: c@d\r\n\r\nbody\r\n"},
		{"folded", "Subject: one\r\n two\r\n\tthree\r\nTo: x\r\n\r\n"},
		{"encoded", "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= and =?ISO-8859-1?B?5Q==?=\r\n\r\n"},
		{"repeated", "To: a\r\nTo: b\r\nSubject: s1\r\nsubject: s2\r\n\r\n"},
		{"garbage between", "Subject: a\r\ngarbage line\r\n cont\r\nTo: b\r\n\r\n"},
		{"empty value then folded", "Subject:\r\n folded\r\n\r\n"},
		{"no blank line", "Subject: x\r\nTo: y"},
		{"bare LF", "Subject: lf\n\nbody\n"},
		{"blank first", "\r\nSubject: body, not header\r\n"},
		{"leading continuation", " orphan\r\nSubject: s\r\n\r\n"},
		{"space before colon", "Subject : spaced\r\nBad Name: x\r\n\r\n"},
		{"8-bit latin1", "Subject: caf\xe9\r\n\r\n"},
		{"dates", "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST) junk\r\n\r\n"},
		{"no date", "Date: someday\r\n\r\n"},
		{"whitespace", "Subject: \t  padded  \r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { sameAsParse(t, []byte(tt.msg)) })
	}
	files, _ := filepath.Glob("testdata/corpus/*.eml")
	if len(files) == 0 {
		t.Fatal("no corpus")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			sameAsParse(t, b)
			sameAsParse(t, bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")))
		})
	}
}

func TestHeaderEnd(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{
		{"", -1}, {"\r\n", 2}, {"\n", 1}, {"A: b\r\n\r\nx", 8}, {"A: b\n\nx", 6},
		{"A: b\r\nC: d", -1}, {"A: b\r\n\r", -1}, {"A: b\r\n \r\n\r\n", 11},
	} {
		if got := HeaderEnd([]byte(tt.in)); got != tt.want {
			t.Errorf("HeaderEnd(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestEachFieldStops(t *testing.T) {
	n := 0
	EachField([]byte("A: 1\r\nB: 2\r\nC: 3\r\n\r\n"), nil, func(name []byte, v string) bool {
		n++
		return !strings.EqualFold(string(name), "b")
	})
	if n != 2 {
		t.Fatalf("fn called %d times, want 2", n)
	}
}

// FuzzHeaderFields: the header-block functions agree with Parse.
func FuzzHeaderFields(f *testing.F) {
	files, _ := filepath.Glob("testdata/corpus/*.eml")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("Subject: a\r\nx\r\n b\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) { sameAsParse(t, b) })
}
