package smtp

import (
	"bufio"
	"strings"
	"testing"
)

// FuzzReadReply: the reply parser never panics, and what it accepts has
// a valid code and a DSN of its class.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"250 ok\r\n", "250-a\r\n250-PIPELINING\r\n250 SIZE 100\r\n", "550 5.1.1 user unknown\r\n",
		"421\r\n", "250-x\r\n251 y\r\n", "2500 x\r\n", "abc\r\n", "250-AUTH=LOGIN PLAIN\r\n250 DSN\n",
		"450 5.1.1 class mismatch\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r := bufio.NewReaderSize(strings.NewReader(in), 16)
		for range 10 {
			rep, err := readReply(r)
			if err != nil {
				return
			}
			if rep.Code < 200 || rep.Code > 599 {
				t.Fatalf("code %d accepted from %q", rep.Code, in)
			}
			if d := rep.DSN(); d[0] != byte('0'+rep.Code/100) {
				t.Fatalf("DSN %q for code %d", d, rep.Code)
			}
			for _, l := range rep.Lines {
				if len(l) > maxReplyLine {
					t.Fatalf("line of %d bytes kept", len(l))
				}
			}
			_ = parseEHLO(rep)
			_ = rep.String()
		}
	})
}

// FuzzNexthop: next-hop parsing never panics.
func FuzzNexthop(f *testing.F) {
	for _, s := range []string{"example.com", "[1.2.3.4]:25", "[h]", "h:587", "unix:/x", "inet:h:24", "[", "[]:", "h:"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, lmtp bool) {
		d, err := parseNexthop(s, "25", lmtp)
		if err == nil && d.unix == "" && (d.host == "" || d.port == "") {
			t.Fatalf("%q gave %+v", s, d)
		}
	})
}

func TestReplyDSN(t *testing.T) {
	for _, tc := range []struct{ in, code, dsn string }{
		{"250 2.1.5 Ok\r\n", "250 2.1.5 Ok", "2.1.5"},
		{"550 user unknown\r\n", "550 user unknown", "5.0.0"},
		{"450 5.1.1 mismatch\r\n", "450 5.1.1 mismatch", "4.0.0"},
		{"250-first\r\n250 second\n", "250 first second", "2.0.0"},
		{"421\r\n", "421 ", "4.0.0"},
	} {
		rep, err := readReply(bufio.NewReader(strings.NewReader(tc.in)))
		if err != nil || rep.String() != tc.code || rep.DSN() != tc.dsn {
			t.Errorf("%q: %q %q %v, want %q %q", tc.in, rep.String(), rep.DSN(), err, tc.code, tc.dsn)
		}
	}
	for _, bad := range []string{"abc\r\n", "2500 x\r\n", "250-x\r\n251 y\r\n", "150 x\r\n", "250-x"} {
		if _, err := readReply(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestWriteContent(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"a\n.b\n", "a\r\n..b\r\n.\r\n"},
		{"no newline", "no newline\r\n.\r\n"},
		{"", ".\r\n"},
		{".\n..\n", "..\r\n...\r\n.\r\n"},
		{"crlf already\r\n", "crlf already\r\n.\r\n"},
		{strings.Repeat("x", 70000) + "\n.y\n", strings.Repeat("x", 70000) + "\r\n..y\r\n.\r\n"},
	} {
		var b strings.Builder
		w := bufio.NewWriter(&b)
		if err := writeContent(w, strings.NewReader(tc.in)); err != nil || b.String() != tc.out {
			t.Errorf("%.20q: %.40q %v", tc.in, b.String(), err)
		}
	}
}
