package smtpd

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
)

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"EHLO x", "MAIL FROM:<a@b> SIZE=1 BODY=8BITMIME", "RCPT TO:<\"q u\"@b> NOTIFY=NEVER ORCPT=rfc822;a+40b", "\t", "BDAT 10 LAST", "MAIL FROM:a@b", "RCPT TO:<@r:a@b>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		c, err := ParseCommand(line)
		if err != nil {
			return
		}
		if c.Verb == "" || strings.ToUpper(c.Verb) != c.Verb {
			t.Fatalf("verb %q", c.Verb)
		}
		if rest, ok := cutPrefixFold(c.Arg, "FROM:"); ok {
			parsePath(rest, true)
		}
		if rest, ok := cutPrefixFold(c.Arg, "TO:"); ok {
			if _, params, err := parsePath(rest, false); err == nil {
				for _, p := range params {
					parseNotify(p.Value)
					parseORCPT(p.Value)
				}
			}
		}
		ParseBDAT(c.Arg)
	})
}

// FuzzDataReader checks that the DATA reader never panics and never ends
// the data anywhere but at a CRLF "." CRLF that follows a CRLF (or the
// start): it compares with a simple reference scan of the input.
func FuzzDataReader(f *testing.F) {
	for _, s := range []string{"a\r\n.\r\n", "a\n.\nb\r\n.\r\n", "a\r.\r\n.\r\n", ".\r\n", "..\r\n.\r\n", "x\n.\r\n"} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, in []byte, bufSize uint8) {
		size := 16 + int(bufSize)
		d := NewDataReader(bufio.NewReaderSize(bytes.NewReader(in), size), BareNewlineNormalize)
		_, err := io.Copy(io.Discard, d)
		end := referenceEnd(in)
		switch {
		case end < 0 && err == nil:
			t.Fatalf("%q: data ended, but there is no CRLF.CRLF", in)
		case end >= 0 && err != nil:
			t.Fatalf("%q: %v, but data ends at %d", in, err, end)
		case end >= 0 && d.Raw() != int64(end):
			t.Fatalf("%q: ended after %d octets, want %d", in, d.Raw(), end)
		}
	})
}

// referenceEnd is the offset just after the first end-of-data line: "."
// CRLF at the start or after CRLF. -1 if none.
func referenceEnd(in []byte) int {
	if bytes.HasPrefix(in, []byte(".\r\n")) {
		return 3
	}
	if i := bytes.Index(in, []byte("\r\n.\r\n")); i >= 0 {
		return i + 5
	}
	return -1
}

// FuzzBDAT feeds a stream of BDAT commands and chunks to the chunk
// parser and checks that each chunk is consumed exactly.
func FuzzBDAT(f *testing.F) {
	f.Add([]byte("BDAT 3\r\nabcBDAT 0 LAST\r\n"))
	f.Add([]byte("BDAT 5 LAST\r\n\r\n.\r\n"))
	f.Add([]byte("BDAT 99999999999999999999\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bufio.NewReaderSize(bytes.NewReader(in), 16)
		for {
			line, _, err := readLine(r, 512)
			if err != nil {
				return
			}
			c, err := ParseCommand(line)
			if err != nil || c.Verb != "BDAT" {
				continue
			}
			size, last, err := ParseBDAT(c.Arg)
			if err != nil {
				continue
			}
			if size < 0 {
				t.Fatalf("negative size from %q", c.Arg)
			}
			before := r.Buffered()
			n, err := io.CopyN(io.Discard, r, size)
			if err == nil && n != size {
				t.Fatalf("copied %d of %d (buffered %d)", n, size, before)
			}
			if err != nil || last {
				return
			}
		}
	})
}
