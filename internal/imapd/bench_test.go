package imapd

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"mime"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The benchmarks measure the steps of bench/imap-fetch on a real store in
// a temporary directory: a Maildir of generated messages (RFC 2047 names
// and subjects, several recipients, plain and multipart bodies, 1-20 KB),
// one logged-in session with INBOX selected, and the command repeated.

const benchWord = "quarterly"

// benchMaildir writes n messages into the user's INBOX (cur/) and returns
// how many have benchWord in their Subject.
func benchMaildir(tb testing.TB, root string, n int) (hits int) {
	tb.Helper()
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			tb.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("budget meeting report lunch plans project review draft notes update invoice travel schedule team offsite release figures agenda minutes proposal")
	names := []string{"Alice Martin", "Bob Stone", "José Núñez", "Zoë Weiß", "Carol King", "Dan Brown", "Élodie Roux", "Frank Li"}
	person := func() string {
		name := names[r.IntN(len(names))]
		addr := strings.ToLower(strings.Fields(name)[1]) + fmt.Sprint(r.IntN(50)) + "@example.test"
		if enc := mime.QEncoding.Encode("UTF-8", name); enc != name {
			return enc + " <" + addr + ">"
		}
		return `"` + name + `" <` + addr + ">"
	}
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		date := epoch.Add(time.Duration(i) * 53 * time.Minute)
		var w []string
		for range 3 + r.IntN(5) {
			w = append(w, words[r.IntN(len(words))])
		}
		if r.IntN(33) == 0 {
			w[r.IntN(len(w))] = benchWord
			hits++
		}
		if r.IntN(10) == 0 {
			w = append(w, "Grüße")
		}
		subject := strings.Join(w, " ")
		var b bytes.Buffer
		fmt.Fprintf(&b, "Return-Path: <bench@example.test>\nReceived: from mx%d.example.test (mx.example.test [192.0.2.%d])\n\tby mail.example.test (mailhorn) with ESMTPS id %08X\n\tfor <bench@example.test>; %s\n",
			r.IntN(9), r.IntN(250), r.Uint32(), date.Format(time.RFC1123Z))
		fmt.Fprintf(&b, "Date: %s\nFrom: %s\n", date.Format(time.RFC1123Z), person())
		var to []string
		for range 1 + r.IntN(5) {
			to = append(to, person())
		}
		fmt.Fprintf(&b, "To: %s\n", strings.Join(to, ",\n\t"))
		if r.IntN(2) == 0 {
			fmt.Fprintf(&b, "Cc: %s\n", person())
		}
		fmt.Fprintf(&b, "Subject: %s\nMessage-ID: <%d.%d@example.test>\nMIME-Version: 1.0\n", mime.QEncoding.Encode("UTF-8", subject), date.Unix(), i)
		size := int(1024 * (1 + r.Float64()*19))
		text := func(n int) {
			for line := 0; n > 0; line++ {
				l := words[r.IntN(len(words))] + " " + words[r.IntN(len(words))] + " the " + benchWord[:r.IntN(len(benchWord))] + " and so on, as said before."
				if r.IntN(200) == 0 {
					l += " " + benchWord
				}
				b.WriteString(l + "\n")
				n -= len(l) + 1
			}
		}
		if r.IntN(2) == 0 {
			b.WriteString("Content-Type: text/plain; charset=us-ascii\n\n")
			text(size)
		} else {
			b.WriteString("Content-Type: multipart/alternative; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\n")
			text(size / 2)
			b.WriteString("--b\nContent-Type: text/html\n\n<p>")
			text(size / 2)
			b.WriteString("</p>\n--b--\n")
		}
		name := filepath.Join(root, "cur", fmt.Sprintf("%d.M%dP1.bench,S=%d:2,S", date.Unix(), i, b.Len()))
		if err := os.WriteFile(name, b.Bytes(), 0o600); err != nil {
			tb.Fatal(err)
		}
		os.Chtimes(name, date, date)
	}
	return hits
}

// benchSession starts a server, writes n messages into alice's INBOX,
// logs in, selects it and fetches every ENVELOPE once (so the index cache
// is warm, as in bench/imap-fetch's warm rounds). It returns the client
// and the number of Subject hits.
func benchSession(b *testing.B, n int) (*client, int) {
	b.Helper()
	ts := startServer(b, nil)
	hits := benchMaildir(b, ts.userRoot("alice@example.test"), n)
	c := ts.login(b)
	c.do("s SELECT INBOX")
	if l := c.do("f FETCH 1:* (UID ENVELOPE)"); len(l) != n+1 {
		b.Fatalf("FETCH gave %d lines, want %d", len(l), n+1)
	}
	return c, hits
}

// benchDo sends a command and reads the response up to its tagged line,
// skipping literals; it returns the untagged lines' count and the first
// one. Lighter than client.do, so that the server's work shows.
func benchDo(b *testing.B, c *client, cmd string) (int, string) {
	tag, _, _ := strings.Cut(cmd, " ")
	c.send(cmd)
	n, first := 0, ""
	for {
		l, err := c.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			l = bytes.Clone(l)
		}
		for err == bufio.ErrBufferFull {
			var more []byte
			more, err = c.r.ReadSlice('\n')
			l = append(l, more...)
		}
		if err != nil {
			b.Fatal(err)
		}
		if bytes.HasPrefix(l, []byte(tag+" ")) {
			if !bytes.HasPrefix(l[len(tag)+1:], []byte("OK")) {
				b.Fatalf("%s: %s", cmd[:min(len(cmd), 60)], l)
			}
			return n, first
		}
		if n == 0 {
			first = string(l)
		}
		n++
		for len(l) > 3 && l[len(l)-3] == '}' {
			i := bytes.LastIndexByte(l, '{')
			size, _ := strconv.Atoi(string(l[i+1 : len(l)-3]))
			if _, err := c.r.Discard(size); err != nil {
				b.Fatal(err)
			}
			if l, err = c.r.ReadSlice('\n'); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkSearchHeader10k(b *testing.B) {
	c, hits := benchSession(b, 10000)
	b.ResetTimer()
	for b.Loop() {
		_, l := benchDo(b, c, "s UID SEARCH HEADER Subject "+benchWord)
		if got := len(strings.Fields(l)) - 2; got != hits {
			b.Fatalf("%d hits, want %d: %.200s", got, hits, l)
		}
	}
}

// BenchmarkSearchHeaderOther10k searches a field the ENVELOPE does not
// hold (the raw header is scanned).
func BenchmarkSearchHeaderOther10k(b *testing.B) {
	c, _ := benchSession(b, 10000)
	b.ResetTimer()
	for b.Loop() {
		_, l := benchDo(b, c, "s UID SEARCH HEADER Return-Path bench")
		if got := len(strings.Fields(l)) - 2; got != 10000 {
			b.Fatalf("%d hits, want 10000", got)
		}
	}
}

func BenchmarkFetchBody1k(b *testing.B) {
	c, _ := benchSession(b, 10000)
	var set strings.Builder
	for i := 1; i <= 10000; i += 10 {
		if set.Len() > 0 {
			set.WriteByte(',')
		}
		fmt.Fprint(&set, i)
	}
	cmd := "f UID FETCH " + set.String() + " BODY.PEEK[]"
	b.ResetTimer()
	for b.Loop() {
		if n, _ := benchDo(b, c, cmd); n != 1000 {
			b.Fatalf("%d responses", n)
		}
	}
}

func BenchmarkFetchEnvelopeAll(b *testing.B) {
	c, _ := benchSession(b, 10000)
	b.ResetTimer()
	for b.Loop() {
		if n, _ := benchDo(b, c, "f FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE INTERNALDATE)"); n != 10000 {
			b.Fatalf("%d responses", n)
		}
	}
}

// BenchmarkFetchEnvelopeCold fetches ENVELOPE from a fresh mailbox each
// time: no cache entry, so every message is read and parsed.
func BenchmarkFetchEnvelopeCold(b *testing.B) {
	const n = 2000
	for b.Loop() {
		b.StopTimer()
		ts := startServer(b, nil)
		benchMaildir(b, ts.userRoot("alice@example.test"), n)
		c := ts.login(b)
		c.do("s SELECT INBOX")
		b.StartTimer()
		if got, _ := benchDo(b, c, "f FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE INTERNALDATE)"); got != n {
			b.Fatalf("%d responses", got)
		}
	}
}

func BenchmarkStoreFlags10k(b *testing.B) {
	c, _ := benchSession(b, 10000)
	b.ResetTimer()
	for b.Loop() {
		c.do("a STORE 1:* +FLAGS.SILENT (\\Flagged)")
		c.do("a STORE 1:* -FLAGS.SILENT (\\Flagged)")
	}
}
