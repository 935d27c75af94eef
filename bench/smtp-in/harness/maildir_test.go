package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// deliver writes a message file the way smtp-source's headers look after a
// server added its own.
func deliver(t *testing.T, base, box, sub, name, msgid, to string) {
	t.Helper()
	dir := filepath.Join(base, box, sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	msg := "Return-Path: <sender@bench.example>\r\nReceived: from client\r\n\tby bench.example\r\n" +
		"From: <sender@bench.example>\r\nTo: " + to + "\r\nMessage-Id: " + msgid + "\r\n\r\nbody\r\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(msg), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerify(t *testing.T) {
	l := load{messages: 4, sessions: 2, mailboxes: 2, domain: "bench.test"}
	good := func(t *testing.T, base string) {
		deliver(t, base, "user1", "new", "a", "<1@x>", "<user1@bench.test>")
		deliver(t, base, "user1", "cur", "b:2,S", "<2@x>", "<user1@bench.test>")
		deliver(t, base, "user2", "new", "c", "<3@x>", "<user2@bench.test>")
		deliver(t, base, "user2", "new", "d", "<4@x>", "<user2@bench.test>")
	}
	tests := []struct {
		name  string
		extra func(t *testing.T, base string)
		want  string // substring of the error; "" for success
	}{
		{"all there", nil, ""},
		{"duplicate", func(t *testing.T, base string) {
			deliver(t, base, "user2", "new", "e", "<4@x>", "<user2@bench.test>")
		}, "duplicate of"},
		{"missing Message-Id", func(t *testing.T, base string) {
			deliver(t, base, "user1", "new", "e", "", "<user1@bench.test>")
		}, "no Message-Id"},
		{"wrong mailbox", func(t *testing.T, base string) {
			deliver(t, base, "user1", "new", "e", "<5@x>", "<user2@bench.test>")
		}, "want <user1@bench.test>"},
		{"unexpected mailbox", func(t *testing.T, base string) {
			deliver(t, base, "user3", "new", "e", "<5@x>", "<user3@bench.test>")
		}, "unexpected mailbox user3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			good(t, base)
			if tt.extra != nil {
				tt.extra(t, base)
			}
			l := l
			l.mailbase = base
			n, err := countMaildirs(base)
			if err != nil {
				t.Fatal(err)
			}
			if n < 4 {
				t.Errorf("countMaildirs = %d, want at least 4", n)
			}
			err = l.verify(context.Background())
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("verify: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("verify error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestCountMaildirsMissing(t *testing.T) {
	base := t.TempDir()
	if err := os.MkdirAll(filepath.Join(base, "user1", "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "user1", "tmp", "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if n, err := countMaildirs(base); n != 0 || err != nil {
		t.Errorf("countMaildirs = %d, %v; want 0 (tmp/ does not count), nil", n, err)
	}
	if _, err := countMaildirs(filepath.Join(base, "nope")); err == nil {
		t.Error("countMaildirs of a missing base: no error")
	}
}

func TestReadHeader(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, text string
		want       map[string]string
		wantErr    bool
	}{
		{"folded and repeated", "Subject: a\r\n b\r\nTo: <x@y>\r\nto: <z@y>\r\n\r\nTo: body\r\n",
			map[string]string{"subject": "a b", "to": "<x@y>"}, false},
		{"bare LF", "Message-Id: <1@x>\n\nbody", map[string]string{"message-id": "<1@x>"}, false},
		{"no body", "X: 1", map[string]string{"x": "1"}, false},
		{"not a header", "garbage line\r\n\r\n", nil, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, fmt.Sprint(i))
			if err := os.WriteFile(file, []byte(tt.text), 0o644); err != nil {
				t.Fatal(err)
			}
			h, err := readHeader(file)
			if (err != nil) != tt.wantErr {
				t.Fatalf("readHeader error = %v, want error %v", err, tt.wantErr)
			}
			for k, v := range tt.want {
				if h[k] != v {
					t.Errorf("%s = %q, want %q", k, h[k], v)
				}
			}
		})
	}
}
