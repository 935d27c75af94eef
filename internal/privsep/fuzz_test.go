package privsep

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzWriteMbox checks the message writer in mbox form on any content: exactly one From_
// line, every content line kept with '>' added only before "From ", and the
// message ends with an empty line.
func FuzzWriteMbox(f *testing.F) {
	for _, s := range []string{"", "From x\n", "a\nFrom b\n>From c\nFrom", "no newline", "\n\nFrom \r\n", strings.Repeat("x", 70000) + "From y\nFrom z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var b bytes.Buffer
		c := Copy{Prefix: []byte("From a  Tue Mar  5 07:08:09 2024\nX: y\n"), QuoteFrom: true, BlankLine: true}
		if err := writeMessage(&b, c, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		head := "From a  Tue Mar  5 07:08:09 2024\nX: y\n"
		if !strings.HasPrefix(out, head) || !strings.HasSuffix(out, "\n\n") {
			t.Fatalf("framing: %q", out)
		}
		got := strings.Split(strings.TrimSuffix(out[len(head):], "\n\n"), "\n")
		want := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
		if body == "" || body == "\n" {
			want = []string{""}
			if body == "" {
				// Only the final empty line.
				if out != head+"\n" {
					t.Fatalf("empty body gave %q", out)
				}
				return
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%d lines, want %d: %q", len(got), len(want), out)
		}
		for i := range want {
			w := want[i]
			if strings.HasPrefix(w, "From ") {
				w = ">" + w
			}
			if got[i] != w {
				t.Fatalf("line %d = %q, want %q", i, got[i], w)
			}
		}
	})
}

// FuzzWriteMessage checks the other copy modes (pipe(8)'s "." and eol=)
// on any content: undoing them gives the content back.
func FuzzWriteMessage(f *testing.F) {
	for _, s := range []string{"", ".\n", "a\n.b\n..c\n", "no newline", "\r\n.\r\n", strings.Repeat(".", 70000) + "\n.x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var b bytes.Buffer
		if err := writeMessage(&b, Copy{DotStuff: true, EOL: "\r\n"}, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if body == "" {
			if out != "" {
				t.Fatalf("empty body gave %q", out)
			}
			return
		}
		if !strings.HasSuffix(out, "\r\n") {
			t.Fatalf("no final line end: %q", out)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n")
		for i, l := range lines {
			if !strings.HasPrefix(l, ".") && strings.HasPrefix(strings.Split(body, "\n")[i], ".") {
				t.Fatalf("line %d not dot-stuffed: %q", i, l)
			}
			lines[i] = strings.TrimPrefix(l, ".")
		}
		want := strings.TrimSuffix(body, "\n")
		if got := strings.Join(lines, "\n"); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}
