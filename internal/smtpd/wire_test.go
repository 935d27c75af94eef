package smtpd

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		in        string
		verb, arg string
		wantErr   bool
	}{
		{in: "EHLO client.example", verb: "EHLO", arg: "client.example"},
		{in: "mail from:<a@b>  SIZE=10 ", verb: "MAIL", arg: "from:<a@b>  SIZE=10"},
		{in: "\tNOOP\t x", verb: "NOOP", arg: "x"},
		{in: "QUIT", verb: "QUIT"},
		{in: "   ", wantErr: true},
		{in: "NO\x00OP", wantErr: true},
	} {
		c, err := ParseCommand([]byte(tc.in))
		if (err != nil) != tc.wantErr || c.Verb != tc.verb || c.Arg != tc.arg {
			t.Errorf("ParseCommand(%q) = %+v, %v", tc.in, c, err)
		}
	}
}

func TestReadLine(t *testing.T) {
	r := bufio.NewReaderSize(strings.NewReader("HELO a\r\nNOOP\n"+strings.Repeat("x", 600)+"\r\nQUIT\r\npartial"), 16)
	for _, want := range []struct {
		line string
		bare bool
		err  error
	}{{"HELO a", false, nil}, {"NOOP", true, nil}, {"", false, errLineTooLong}, {"QUIT", false, nil}, {"", false, io.EOF}} {
		line, bare, err := readLine(r, 512)
		if string(line) != want.line || bare != want.bare || !errors.Is(err, want.err) {
			t.Errorf("readLine = %q %v %v, want %q %v %v", line, bare, err, want.line, want.bare, want.err)
		}
	}
}

func TestDataReader(t *testing.T) {
	for _, tc := range []struct {
		name, in, want, rest string
		mode                 BareNewline
		err                  error
	}{
		{name: "simple", in: "a\r\nb\r\n.\r\nNEXT", want: "a\nb\n", rest: "NEXT"},
		{name: "empty", in: ".\r\n", want: ""},
		{name: "unstuff", in: "..x\r\n..\r\n.\r\n", want: ".x\n.\n"},
		{name: "lf.lf", in: "a\n.\nb\r\n.\r\n", want: "a\n\nb\n"},
		{name: "cr.cr", in: "a\r.\rb\r\n.\r\n", want: "a\r.\rb\n"},
		{name: "lf.crlf", in: "a\n.\r\nb\r\n.\r\n", want: "a\n\nb\n"},
		{name: "crlf.lf", in: "a\r\n.\nb\r\n.\r\n", want: "a\n\nb\n"},
		{name: "allow lf.lf", in: "a\n.\nb", want: "a\n", rest: "b", mode: BareNewlineAllow},
		{name: "reject", in: "a\nb\r\n.\r\n", want: "", mode: BareNewlineReject, err: ErrBareLF},
		{name: "eof", in: "a\r\n", want: "a\n", err: io.ErrUnexpectedEOF},
		{name: "long line", in: "." + strings.Repeat("y", 40) + "\r\n.\r\n", want: strings.Repeat("y", 40) + "\n"},
		{name: "long line cr split", in: strings.Repeat("z", 15) + "\r\n.\r\n", want: strings.Repeat("z", 15) + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tc.in), 16)
			d := NewDataReader(br, tc.mode)
			got, err := io.ReadAll(d)
			if string(got) != tc.want || !errors.Is(err, tc.err) && !(tc.err == nil && err == nil) {
				t.Errorf("got %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
			if rest, _ := io.ReadAll(br); tc.err == nil && string(rest) != tc.rest {
				t.Errorf("left %q, want %q", rest, tc.rest)
			}
		})
	}
}

func TestParseBDAT(t *testing.T) {
	for _, tc := range []struct {
		in   string
		size int64
		last bool
		ok   bool
	}{
		{"10", 10, false, true}, {"0 LAST", 0, true, true}, {"5 last", 5, true, true},
		{"", 0, false, false}, {"-1", 0, false, false}, {"+1", 0, false, false}, {"1 FIRST", 0, false, false},
		{"1 LAST x", 0, false, false}, {"99999999999999999999", 0, false, false},
	} {
		size, last, err := ParseBDAT(tc.in)
		if (err == nil) != tc.ok || size != tc.size || last != tc.last {
			t.Errorf("ParseBDAT(%q) = %d %v %v", tc.in, size, last, err)
		}
	}
}

func TestWriteReply(t *testing.T) {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	writeReply(w, &Reply{Code: 250, DSN: "2.0.0", Text: "one\ntwo\r\x00"})
	writeReply(w, &Reply{Code: 220, Text: "host ESMTP"})
	w.Flush()
	if want := "250-2.0.0 one\r\n250 2.0.0 two??\r\n220 host ESMTP\r\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestStats(t *testing.T) {
	var st stats
	if st.String() != "commands=0" {
		t.Errorf("empty: %q", st.String())
	}
	st.count("ehlo", true)
	st.count("rcpt", true)
	st.count("rcpt", false)
	st.count("quit", true)
	if want := "ehlo=1 rcpt=1/2 quit=1 commands=3/4"; st.String() != want {
		t.Errorf("got %q, want %q", st.String(), want)
	}
}
