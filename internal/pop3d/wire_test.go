package pop3d

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func TestWriteMessage(t *testing.T) {
	long := strings.Repeat("x", 40000)
	tests := []struct {
		name  string
		in    string
		lines int64
		want  string
	}{
		{"crlf", "A: b\r\n\r\nbody\r\n", -1, "A: b\r\n\r\nbody\r\n.\r\n"},
		{"bare LF gets CR", "A: b\n\nbody\n", -1, "A: b\r\n\r\nbody\r\n.\r\n"},
		{"no final newline", "A: b\r\n\r\nbody", -1, "A: b\r\n\r\nbody\r\n.\r\n"},
		{"dots stuffed", ".A\r\n\r\n.\r\n..\r\n.x\r\nx.\r\n", -1, "..A\r\n\r\n..\r\n...\r\n..x\r\nx.\r\n.\r\n"},
		{"empty", "", -1, ".\r\n"},
		{"top 0", "A: b\r\nC: d\r\n\r\nl1\r\nl2\r\n", 0, "A: b\r\nC: d\r\n\r\n.\r\n"},
		{"top 1", "A: b\r\n\r\nl1\r\nl2\r\n", 1, "A: b\r\n\r\nl1\r\n.\r\n"},
		{"top more than there is", "A: b\r\n\r\nl1\r\n", 9, "A: b\r\n\r\nl1\r\n.\r\n"},
		{"top without body", "A: b\r\nC: d\r\n", 2, "A: b\r\nC: d\r\n.\r\n"},
		{"top counts blank body lines", "A: b\r\n\r\n\r\n\r\nl3\r\n", 2, "A: b\r\n\r\n\r\n\r\n.\r\n"},
		{"long dotted line", "A: b\r\n\r\n." + long + "\r\nnext\r\n", 1, "A: b\r\n\r\n.." + long + "\r\n.\r\n"},
		{"CR at a buffer boundary", "A: b\r\n\r\n" + long[:32*1024-1] + "\r\nz\r\n", -1, "A: b\r\n\r\n" + long[:32*1024-1] + "\r\nz\r\n.\r\n"},
		{"lone CR kept", "A: b\r\n\r\nx\ry\r\n", -1, "A: b\r\n\r\nx\ry\r\n.\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			w := bufio.NewWriter(&b)
			n, err := writeMessage(w, strings.NewReader(tt.in), tt.lines)
			if err != nil {
				t.Fatal(err)
			}
			w.Flush()
			if got := b.String(); got != tt.want {
				t.Errorf("got %q\nwant %q", shorten(got), shorten(tt.want))
			}
			if n != int64(len(tt.want)-3) {
				t.Errorf("counted %d octets, want %d", n, len(tt.want)-3)
			}
		})
	}
}

func shorten(s string) string {
	if len(s) > 200 {
		return s[:100] + "..." + s[len(s)-100:]
	}
	return s
}

func TestParseMsgArgs(t *testing.T) {
	tests := []struct {
		args      string
		withLines bool
		msg, n    uint64
		err       string
	}{
		{"1", false, 1, 0, ""},
		{"4294967295", false, 4294967295, 0, ""},
		{"4294967296", false, 0, 0, "Message number too large: 4294967296"},
		{"", false, 0, 0, "Missing message number."},
		{" 1", false, 0, 0, "Invalid message number:  1"},
		{"1 ", false, 0, 0, "Noise after message number: "},
		{"2 10", true, 2, 10, ""},
		{"2  10", true, 2, 10, ""},
		{"2", true, 0, 0, "Syntax: TOP <message number> <lines>"},
		{"2 ", true, 0, 0, "Missing size."},
		{"2 1x", true, 0, 0, "Noise after size: x"},
	}
	for _, tt := range tests {
		msg, n, err := parseMsgArgs(tt.args, tt.withLines)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.err || msg != tt.msg || n != tt.n {
			t.Errorf("parseMsgArgs(%q, %v) = %d, %d, %q; want %d, %d, %q", tt.args, tt.withLines, msg, n, got, tt.msg, tt.n, tt.err)
		}
	}
}

func TestReadLine(t *testing.T) {
	r := bufio.NewReaderSize(strings.NewReader("USER bob\r\nNOOP\n"+strings.Repeat("x", 600)+"\r\n"), 16)
	for _, want := range []string{"USER bob", "NOOP"} {
		if got, err := readLine(r, 512); err != nil || got != want {
			t.Errorf("readLine = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := readLine(r, 512); err != errLineTooLong {
		t.Errorf("long line: %v", err)
	}
}

func TestParseCommand(t *testing.T) {
	for _, tt := range []struct{ line, name, args string }{
		{"user bob", "USER", "bob"},
		{"PASS with spaces ", "PASS", "with spaces "},
		{"QUIT", "QUIT", ""},
		{"", "", ""},
	} {
		if n, a := parseCommand(tt.line); n != tt.name || a != tt.args {
			t.Errorf("parseCommand(%q) = %q, %q", tt.line, n, a)
		}
	}
}
