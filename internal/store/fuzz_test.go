package store

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzIndex: the index reader never panics, never accepts an entry name
// that leaves cur/, and what it accepts whole re-encodes to the same bytes.
func FuzzIndex(f *testing.F) {
	ix := &index{uidValidity: 7, uidNext: 4, highestModSeq: 9, keywords: []string{"$Junk", "Work"},
		entries: []entry{
			{uid: 1, modseq: 2, vsize: 10, psize: 9, date: 1700000000, sys: flagSeen, name: "1.a,S=9:2,S"},
			{uid: 3, modseq: 9, vsize: 5, psize: 5, date: 1700000001, kw: []uint16{0, 1}, name: "2.b:2,ab"},
		}}
	good := ix.encode()
	f.Add(good)
	f.Add(good[:len(good)-5])
	f.Add(good[:headerSize])
	f.Add([]byte("MHIX"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeHeader(b)
		ix, err := decodeIndex(b)
		if ix == nil {
			return
		}
		for _, e := range ix.entries {
			if !safeFileName(e.name) || strings.Contains(e.name, "/") {
				t.Fatalf("unsafe name %q accepted", e.name)
			}
			for _, k := range e.kw {
				if int(k) >= len(ix.keywords) {
					t.Fatalf("keyword id %d of %d", k, len(ix.keywords))
				}
			}
		}
		if err == nil {
			if again := ix.encode(); string(again) != string(b) {
				t.Fatalf("re-encoding differs")
			}
		}
		decodeCache(b, 7)
	})
}

// FuzzName: a name the validator accepts maps to one directory entry
// directly under the root, which maps back to the same name.
func FuzzName(f *testing.F) {
	for _, s := range []string{"INBOX", "a/b", "../x", "a/../../b", ".x", "x.", "INBOX/../..", "nul\x00", "Ünï/cødé", "a//b", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		c, err := CheckName(name)
		if err != nil {
			return
		}
		if again, err := CheckName(c); err != nil || again != c {
			t.Fatalf("canonical %q not stable: %q %v", c, again, err)
		}
		if isInbox(c) {
			return
		}
		d := dirName(c)
		if strings.ContainsAny(d, "/\x00") || d == "." || d == ".." || len(d) > 255 ||
			filepath.Join("/root", d) != "/root/"+d {
			t.Fatalf("%q -> unsafe directory %q", name, d)
		}
		back, ok := nameOfDir(d)
		if !ok || back != c {
			t.Fatalf("%q -> %q -> %q %v", c, d, back, ok)
		}
	})
}

// BenchmarkSelect10k measures opening a 10,000-message mailbox in a new
// Store (as a first SELECT after a restart): one read of the index.
func BenchmarkSelect10k(b *testing.B) {
	root := filepath.Join(b.TempDir(), "Maildir")
	st := New(Options{})
	u, err := st.OpenUser(bg, root, Quota{})
	if err != nil {
		b.Fatal(err)
	}
	body := "From: a@example.org\nTo: b@example.org\nSubject: benchmark\n\n" + strings.Repeat("line of text\n", 40)
	for i := range 10000 {
		name := fmt.Sprintf("%d.M%dP1Q%d.bench,S=%d", 1700000000+i, i, i, len(body))
		os.WriteFile(filepath.Join(root, "new", name), []byte(body), 0o600)
	}
	m, err := u.Open(bg, "INBOX") // builds the index once
	if err != nil {
		b.Fatal(err)
	}
	if n := len(m.Messages()); n != 10000 {
		b.Fatalf("%d messages", n)
	}
	m.Close()
	// A mailbox not touched for a while: its directories are not in the
	// dirty window, and one open records their mtimes in the index.
	old := time.Now().Add(-time.Hour)
	for _, d := range []string{"new", "cur"} {
		os.Chtimes(filepath.Join(root, d), old, old)
	}
	m, _ = u.Open(bg, "INBOX")
	m.Close()
	st.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		st := New(Options{})
		u, _ := st.OpenUser(bg, root, Quota{})
		m, err := u.Open(bg, "INBOX")
		if err != nil {
			b.Fatal(err)
		}
		if s := m.Status(); s.Messages != 10000 {
			b.Fatal(s)
		}
		m.Close()
		st.Close()
	}
}

// FuzzCRLFReader checks the LF→CRLF reader against a plain conversion:
// whole reads, reads of every size from a seek anywhere, with read
// buffers small enough to cut runs, CRs and LFs at every place.
func FuzzCRLFReader(f *testing.F) {
	f.Add([]byte("a: b\n\nbody\n"), uint8(3), uint16(5), uint8(2))
	f.Add([]byte("a\r\nb\rc\n\r\r\n\n"), uint8(1), uint16(4), uint8(1))
	f.Add([]byte("no newline"), uint8(7), uint16(0), uint8(9))
	path := filepath.Join(f.TempDir(), "msg")
	f.Fuzz(func(t *testing.T, content []byte, bufSize uint8, seek uint16, readSize uint8) {
		var want []byte
		var prev byte
		for _, b := range content {
			if b == '\n' && prev != '\r' {
				want = append(want, '\r')
			}
			want = append(want, b)
			prev = b
		}
		if got := crlfSize(content, 0); got != int64(len(want)) {
			t.Fatalf("crlfSize %d, want %d", got, len(want))
		}
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		// A small buffer reads the file in pieces; the pooled one reads
		// it whole at open.
		for _, bs := range []int{int(bufSize%16) + 1, crlfBufSize} {
			var c *crlfReader
			var err error
			if bs < crlfBufSize {
				fd, oerr := openRead(append([]byte(path), 0))
				if oerr != nil {
					t.Fatal(oerr)
				}
				c, err = newCRLFReader(fd, int64(len(want)), make([]byte, bs))
			} else {
				c, err = openCRLF(append([]byte(path), 0), int64(len(want)))
			}
			if err != nil {
				t.Fatal(err)
			}
			if whole := len(content) < bs; c.whole != whole {
				t.Fatalf("buffer %d, %d bytes: whole %v", bs, len(content), c.whole)
			}
			got, err := io.ReadAll(c)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("buffer %d: %q %v, want %q", bs, got, err, want)
			}
			off := int64(seek) % (int64(len(want)) + 1)
			if n, err := c.Seek(off, io.SeekStart); err != nil || n != off {
				t.Fatalf("seek %d: %d %v", off, n, err)
			}
			var rest []byte
			rb := make([]byte, int(readSize%8)+1)
			for {
				n, err := c.Read(rb)
				rest = append(rest, rb[:n]...)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(rest, want[off:]) {
				t.Fatalf("buffer %d from %d: %q, want %q", bs, off, rest, want[off:])
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Read(rb); err == nil {
				t.Fatal("read after close")
			}
		}
	})
}
