package local

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzWriteMbox checks the mbox writer on any content: exactly one From_
// line, every content line kept with '>' added only before "From ", and the
// message ends with an empty line.
func FuzzWriteMbox(f *testing.F) {
	for _, s := range []string{"", "From x\n", "a\nFrom b\n>From c\nFrom", "no newline", "\n\nFrom \r\n", strings.Repeat("x", 70000) + "From y\nFrom z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var b bytes.Buffer
		if err := writeMbox(&b, "From a  Tue Mar  5 07:08:09 2024\n", []byte("X: y\n"), strings.NewReader(body)); err != nil {
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

// FuzzExpandAttrs feeds forward_path-like patterns (main.cf input) to the
// attribute expander: errors are fine, panics and runaway output are not.
func FuzzExpandAttrs(f *testing.F) {
	for _, s := range []string{"$home/.forward${recipient_delimiter}${extension}", "${a?{${b:{c}}}:{d}}", "$$", "${", "$(x", "${x?{", "${home?{a}:{b}"} {
		f.Add(s)
	}
	at := attrs{"home": "/h", "extension": "e", "recipient_delimiter": "+"}
	f.Fuzz(func(t *testing.T, pattern string) {
		e, err := at.expand(pattern, "")
		if err == nil && len(e.text) > len(pattern)*4+16 {
			t.Fatalf("%q expanded to %d bytes", pattern, len(e.text))
		}
	})
}
