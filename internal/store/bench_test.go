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

// benchTree writes n messages into new/ of a fresh tree and returns it
// opened once (index built) with the directories' mtimes an hour old, as
// a mailbox not touched for a while.
func benchTree(b *testing.B, n int) (*Store, *User, string) {
	b.Helper()
	root := filepath.Join(b.TempDir(), "Maildir")
	st := New(Options{})
	b.Cleanup(func() { st.Close() })
	u, err := st.OpenUser(bg, root, Quota{})
	if err != nil {
		b.Fatal(err)
	}
	body := "From: a@example.org\nTo: b@example.org\nSubject: benchmark\n\n" + strings.Repeat("line of text\n", 40)
	for i := range n {
		name := fmt.Sprintf("%d.M%dP1Q%d.bench,S=%d", 1700000000+i, i, i, len(body))
		os.WriteFile(filepath.Join(root, "new", name), []byte(body), 0o600)
	}
	m, err := u.Open(bg, "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	m.Close()
	old := time.Now().Add(-time.Hour)
	for _, d := range []string{"new", "cur"} {
		os.Chtimes(filepath.Join(root, d), old, old)
	}
	return st, u, root
}

// BenchmarkOpenRead opens one message and reads it whole, as FETCH
// BODY[] does for each message.
func BenchmarkOpenRead(b *testing.B) {
	_, u, _ := benchTree(b, 100)
	m, err := u.Open(bg, "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	msgs := m.Messages()
	buf := make([]byte, 16*1024)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		r, err := m.Open(msgs[i%len(msgs)].UID)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf); err != nil {
			b.Fatal(err)
		}
		r.Close()
		i++
	}
}

// BenchmarkStoreFlags10k sets and clears a flag on all of a 10,000-message
// mailbox (STORE 1:* +FLAGS then -FLAGS), then syncs as the IMAP server
// does after a command.
func BenchmarkStoreFlags10k(b *testing.B) {
	_, u, _ := benchTree(b, 10000)
	m, err := u.Open(bg, "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	var uids []uint32
	for _, x := range m.Messages() {
		uids = append(uids, x.UID)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, op := range []FlagOp{FlagsAdd, FlagsRemove} {
			if _, err := m.Store(bg, uids, op, []string{FlagFlagged}, 0); err != nil {
				b.Fatal(err)
			}
			if _, err := m.Sync(bg); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkCRLFRead converts a 64 KiB LF message to CRLF.
func BenchmarkCRLFRead(b *testing.B) {
	path := filepath.Join(b.TempDir(), "msg")
	content := []byte(strings.Repeat("a line of some typical length, seventy characters or so......\n", 1000))
	os.WriteFile(path, content, 0o600)
	size := crlfSize(content, 0)
	out := make([]byte, 32*1024)
	cpath := append([]byte(path), 0)
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := openCRLF(cpath, size)
		if err != nil {
			b.Fatal(err)
		}
		var got bytes.Buffer
		got.Grow(int(size))
		if _, err := io.CopyBuffer(&got, struct{ io.Reader }{r}, out); err != nil {
			b.Fatal(err)
		}
		if int64(got.Len()) != size {
			b.Fatal(got.Len(), size)
		}
		r.Close()
	}
}

// BenchmarkRescan10k lists a 10,000-message folder that did not change
// (what a sync costs when the directories are in the dirty window).
func BenchmarkRescan10k(b *testing.B) {
	_, u, _ := benchTree(b, 10000)
	m, err := u.Open(bg, "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	f := m.impl.f
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f.mu.Lock()
		err := f.refresh(bg, true)
		f.mu.Unlock()
		if err != nil {
			b.Fatal(err)
		}
	}
}
