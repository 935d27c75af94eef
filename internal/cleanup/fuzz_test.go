package cleanup

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"mailhorn/internal/queue"
)

// expectedContent is an independent model of what Submit stores when it
// neither rewrites nor adds nor drops headers: the input with CRLF turned
// into LF, a final newline added, and an empty line inserted before the
// first line of the header block that is not a header.
func expectedContent(in string) string {
	s := strings.ReplaceAll(in, "\r\n", "\n")
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	inHeader, haveField := true, false
	for _, l := range lines {
		if l == "" {
			continue
		}
		if inHeader {
			text := strings.TrimSuffix(l, "\n")
			switch {
			case text == "":
				inHeader = false
			case haveField && (text[0] == ' ' || text[0] == '\t'):
			case HeaderName([]byte(text)) != "":
				haveField = true
			default:
				b.WriteString("\n")
				inHeader = false
			}
		}
		b.WriteString(l)
	}
	return b.String()
}

func FuzzSubmit(f *testing.F) {
	for _, s := range []string{
		"",
		"Subject: a\r\n\r\nbody\r\n",
		"Subject: a\n b\n\nx",
		"From: Alice <alice>\nTo: bob, carol@x (c)\nBcc: z\n\nhi\n",
		"no header\r\n",
		" leading\n",
		"Received: a\nReceived: b\nReceived: c\n\n",
		"Resent-From: x\nMessage-Id: <a@b>\n\n.\r\n",
		"\r\r\n\r",
		"To: \"unterminated\n\n",
		"X: " + strings.Repeat("y", 300) + "\n " + strings.Repeat("z", 300) + "\n\n",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	dir := f.TempDir()
	q, err := queue.Open(dir, queue.NewIDSource(2, nil))
	if err != nil {
		f.Fatal(err)
	}
	opt := DefaultOptions()
	opt.Hostname = "mx.example.test"
	opt.DropHeaders = nil
	opt.HopcountLimit = 2
	opt.MessageSizeLimit = 1 << 20
	opt.Now = func() time.Time { return testTime }
	rw := &fakeRewriter{virtual: map[string][]string{"bob@example.com": {"b1@example.com", "b2@example.com"}}}
	c := New(q, rw, nil, nil, opt)
	small := opt
	small.HeaderSizeLimit = 64
	csmall := New(q, rw, nil, nil, small)

	f.Fuzz(func(t *testing.T, in string, local bool) {
		for _, cl := range []*Cleanup{c, csmall} {
			m := simpleMsg("bob@example.com", "carol@example.com")
			m.Local = local
			m.FullName = in[:min(len(in), 20)]
			m.Received = "Received: by mx.example.test"
			id, err := cl.Submit(context.Background(), m, strings.NewReader(in))
			if err != nil {
				var ce *Error
				if !errors.As(err, &ce) {
					t.Fatalf("Submit: %v", err)
				}
				continue
			}
			path := q.Path(queue.Incoming, id)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			os.Remove(path)
			qf, err := queue.Decode(strings.NewReader(string(data)), int64(len(data)))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			content := string(data[qf.ContentOffset : qf.ContentOffset+qf.ContentSize])
			if len(qf.Recipients) != 3 {
				t.Errorf("recipients %v", qf.Recipients)
			}
			if !strings.HasPrefix(content, m.Received+"\n") {
				t.Errorf("content %q does not start with Received", content)
			}
			if !local && cl == c {
				if want := m.Received + "\n" + expectedContent(in); content != want {
					t.Errorf("content:\n got %q\nwant %q", content, want)
				}
			}
		}
	})
}
