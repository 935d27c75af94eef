package cleanup

import (
	"context"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestContentNormalisation submits content with no header rewriting and no
// added headers: what lands in the queue file is the input with line
// endings normalised.
func TestContentNormalisation(t *testing.T) {
	long := strings.Repeat("x", 3*readBufSize+17)
	crAtBoundary := strings.Repeat("y", readBufSize-1) // its CR ends a full buffer
	tests := []struct {
		name, in, want string
	}{
		{"lf", "Subject: a\n\nbody\n", "Subject: a\n\nbody\n"},
		{"crlf", "Subject: a\r\n\r\nbody\r\nmore\r\n", "Subject: a\n\nbody\nmore\n"},
		{"bare cr is data", "Subject: a\rb\r\n\r\nx\ry\r\n\r", "Subject: a\rb\n\nx\ry\n\r\n"},
		{"cr cr lf", "Subject: a\r\n\r\nx\r\r\n", "Subject: a\n\nx\r\n"},
		{"no final newline", "Subject: a\n\nbody", "Subject: a\n\nbody\n"},
		{"header without newline", "Subject: a", "Subject: a\n"},
		{"headers only", "Subject: a\nX-A: b\n", "Subject: a\nX-A: b\n"},
		{"empty", "", ""},
		{"folded header", "Subject: a\n b\n\tc\n\nx\n", "Subject: a\n b\n\tc\n\nx\n"},
		{"no headers", "hello world\nline 2\n", "\nhello world\nline 2\n"},
		{"mbox from line", "From alice Tue Mar  5 2024\nSubject: x\n\nb\n", "\nFrom alice Tue Mar  5 2024\nSubject: x\n\nb\n"},
		{"leading blank", " x\n", "\n x\n"},
		{"blank line only", "\n", "\n"},
		{"non-header after headers", "Subject: a\nnot a header\nbody\n", "Subject: a\n\nnot a header\nbody\n"},
		{"obsolete name space colon", "Subject : a\n\nb\n", "Subject : a\n\nb\n"},
		{"8bit and nul", "Subject: \xe9t\xe9\n\n\x00\xff\n", "Subject: \xe9t\xe9\n\n\x00\xff\n"},
		{"long body line", "Subject: a\n\n" + long + "\r\nend\r\n", "Subject: a\n\n" + long + "\nend\n"},
		{"long body line no newline", "Subject: a\n\n" + long, "Subject: a\n\n" + long + "\n"},
		{"long first line not a header", long + "\r\n", "\n" + long + "\n"},
		{"long first line no newline", long, "\n" + long + "\n"},
		{"crlf split at buffer end", "Subject: a\n\n" + crAtBoundary + "\r\nz\r\n", "Subject: a\n\n" + crAtBoundary + "\nz\n"},
		{"crlf split in header", "Subject: " + crAtBoundary + "\r\n\r\nz\r\n", "Subject: " + crAtBoundary + "\n\nz\n"},
	}
	e := newEnv(t, nil, DefaultOptions())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Also through readers that return one byte at a time, and
			// data together with io.EOF.
			for _, r := range []io.Reader{
				strings.NewReader(tt.in),
				iotest.OneByteReader(strings.NewReader(tt.in)),
				iotest.DataErrReader(strings.NewReader(tt.in)),
			} {
				id, err := e.c.Submit(context.Background(), simpleMsg("bob@example.com"), r)
				if err != nil {
					t.Fatal(err)
				}
				_, got := e.read(id)
				if got != tt.want {
					t.Errorf("content:\n got %q\nwant %q", trunc(got), trunc(tt.want))
				}
			}
		})
	}
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:100] + "..." + s[len(s)-100:]
	}
	return s
}

func TestReceivedPrepended(t *testing.T) {
	e := newEnv(t, nil, DefaultOptions())
	m := simpleMsg("bob@example.com")
	m.Received = "Received: from client.example.org (client [192.0.2.1])\n\tby mx.example.test (mailhorn) with ESMTP id X\n\tfor <bob@example.com>; Tue, 5 Mar 2024 14:07:09 +0100 (CET)"
	id, err := e.c.Submit(context.Background(), m, strings.NewReader("Subject: hi\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, got := e.read(id)
	want := m.Received + "\nSubject: hi\n\nbody\n"
	if got != want {
		t.Errorf("content:\n got %q\nwant %q", got, want)
	}
}

// ReceivedFor builds our Received: with the queue ID, as Postfix's carries
// "id QUEUEID"; it counts as a hop.
func TestReceivedForQueueID(t *testing.T) {
	opt := DefaultOptions()
	opt.HopcountLimit = 2
	e := newEnv(t, nil, opt)
	m := simpleMsg("bob@example.com")
	m.ReceivedFor = func(id string) string {
		return "Received: from client.example.org\r\n\tby mx.example.test (mailhorn) with ESMTP id " + id
	}
	id, err := e.c.Submit(context.Background(), m, strings.NewReader("Received: from elsewhere\r\nSubject: hi\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	f, got := e.read(id)
	want := "Received: from client.example.org\n\tby mx.example.test (mailhorn) with ESMTP id " + id + "\nReceived: from elsewhere\nSubject: hi\n\nbody\n"
	if got != want {
		t.Errorf("content:\n got %q\nwant %q", got, want)
	}
	if f.Attr(BounceAttr) == "" {
		t.Errorf("two Received: headers with hopcount_limit 2: no bounce attribute")
	}
}

func TestDropHeaders(t *testing.T) {
	e := newEnv(t, nil, DefaultOptions())
	in := "Return-Path: <x@y>\nBcc: secret@example.com,\n other@example.com\nTo: bob@example.com\nContent-Length: 12\nRESENT-BCC: z@example.com\n\nBcc: in the body stays\n"
	id, err := e.c.Submit(context.Background(), simpleMsg("bob@example.com"), strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	_, got := e.read(id)
	want := "To: bob@example.com\n\nBcc: in the body stays\n"
	if got != want {
		t.Errorf("content:\n got %q\nwant %q", got, want)
	}
}

// TestHeaderSizeLimit: like Postfix, one header longer than
// header_size_limit is truncated, the excess discarded; the message is not
// rejected, and a large header block of ordinary headers is kept whole.
func TestHeaderSizeLimit(t *testing.T) {
	opt := DefaultOptions()
	opt.HeaderSizeLimit = 100
	many := ""
	for i := 0; i < 50; i++ {
		many += "X-Header: " + strings.Repeat("v", 40) + "\n"
	}
	tests := []struct {
		name, in, want string
	}{
		{"long line", "Subject: " + strings.Repeat("a", 300) + "\nX: y\n\nb\n",
			"Subject: " + strings.Repeat("a", 91) + "\nX: y\n\nb\n"},
		{"long folded", "Subject: " + strings.Repeat("a", 50) + "\n " + strings.Repeat("b", 30) + "\n " + strings.Repeat("c", 30) + "\n more\nX: y\n\nb\n",
			"Subject: " + strings.Repeat("a", 50) + "\n " + strings.Repeat("b", 30) + "\n " + strings.Repeat("c", 7) + "\nX: y\n\nb\n"},
		{"exactly the limit", "Subject: " + strings.Repeat("a", 91) + "\n\nb\n",
			"Subject: " + strings.Repeat("a", 91) + "\n\nb\n"},
		{"big header block", many + "\nbody\n", many + "\nbody\n"},
		{"long body line untouched", "Subject: s\n\n" + strings.Repeat("z", 500) + "\n",
			"Subject: s\n\n" + strings.Repeat("z", 500) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil, opt)
			id, err := e.c.Submit(context.Background(), simpleMsg("bob@example.com"), strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			_, got := e.read(id)
			if got != tt.want {
				t.Errorf("content:\n got %q\nwant %q", trunc(got), trunc(tt.want))
			}
		})
	}
}

func TestMessageSizeLimit(t *testing.T) {
	opt := DefaultOptions()
	opt.MessageSizeLimit = 2000
	for _, tt := range []struct {
		name    string
		in      string
		wantErr bool
	}{
		{"small", "Subject: a\n\n" + strings.Repeat("b", 1000) + "\n", false},
		{"big body", "Subject: a\n\n" + strings.Repeat("b\n", 2000), true},
		{"big header", "Subject: " + strings.Repeat("b", 2500) + "\n\nx\n", true},
		{"one long line", strings.Repeat("b", 100000), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil, opt)
			id, err := e.c.Submit(context.Background(), simpleMsg("bob@example.com"), strings.NewReader(tt.in))
			if !tt.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				e.read(id)
				return
			}
			ce, ok := err.(*Error)
			if !ok || ce.Code != 552 || ce.DSN != "5.3.4" || ce.Text != "Message size exceeds fixed limit" {
				t.Fatalf("err = %v, want 552 5.3.4", err)
			}
			if f := e.files(); len(f) != 0 {
				t.Errorf("files left behind: %v", f)
			}
		})
	}
}
