package imapd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFetchWholeStreams checks BODY[] and its partial forms, streamed from
// the file, alone and after ENVELOPE (header read first), after a section
// (message parsed first), and from a file with bare LFs (served as CRLF).
func TestFetchWholeStreams(t *testing.T) {
	ts := startServer(t, nil)
	root := ts.userRoot("alice@example.test")
	for _, d := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(root, d), 0o700)
	}
	lf := "From: a@example.test\nSubject: streamed\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nfirst part\n--b\n\nsecond\n--b--\n"
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(root, "cur", fmt.Sprintf("100%d.M1P1.test:2,S", i)), []byte(lf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	crlf := strings.ReplaceAll(lf, "\n", "\r\n")
	c := ts.login(t)
	c.do("s SELECT INBOX")
	lit := func(s string) string { return fmt.Sprintf("{%d}\r\n%s", len(s), s) }
	tests := []struct {
		cmd   string
		wants []string
	}{
		{"f1 FETCH 1 (ENVELOPE BODY.PEEK[])", []string{`ENVELOPE (NIL "streamed"`, "BODY[] " + lit(crlf)}},
		{"f2 FETCH 1 BODY.PEEK[]<5.20>", []string{"BODY[]<5> " + lit(crlf[5:25])}},
		{"f3 FETCH 1 BODY.PEEK[]<90.1000>", []string{"BODY[]<90> " + lit(crlf[90:])}},
		{"f4 FETCH 1 BODY.PEEK[]<1000.10>", []string{"BODY[]<1000> {0}\r\n"}},
		{"f5 FETCH 2 (BODY.PEEK[1] BODY.PEEK[]<7.30>)", []string{"BODY[1] " + lit("first part"), "BODY[]<7> " + lit(crlf[7:37])}},
		{"f6 FETCH 3 (BODYSTRUCTURE ENVELOPE RFC822)", []string{`BODYSTRUCTURE (("text" "plain"`, `ENVELOPE (NIL "streamed"`, "RFC822 " + lit(crlf)}},
		{"f7 FETCH 1:3 RFC822.SIZE", []string{fmt.Sprintf("RFC822.SIZE %d", len(crlf))}},
	}
	for _, tt := range tests {
		got := strings.Join(c.do(tt.cmd), "\n")
		for _, w := range tt.wants {
			if !strings.Contains(got, w) {
				t.Errorf("%s: no %q in\n%q", tt.cmd, w, got)
			}
		}
	}
}
