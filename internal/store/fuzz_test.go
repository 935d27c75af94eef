package store

import (
	"fmt"
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
