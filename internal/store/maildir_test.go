package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestDeliver(t *testing.T) {
	m := Maildir(filepath.Join(t.TempDir(), "Maildir"))
	if err := m.Init(0o700); err != nil {
		t.Fatal(err)
	}
	w := NewWriter("mx.example:test/x")
	prefix := []byte("Return-Path: <a@b>\nDelivered-To: c@d\n")

	// Body from a file region: the kernel-copy path.
	src := filepath.Join(t.TempDir(), "src")
	os.WriteFile(src, []byte("JUNKSubject: x\n\nbody\nTRAILER"), 0o600)
	f, _ := os.Open(src)
	defer f.Close()
	f.Seek(4, 0)
	name, err := w.Deliver(context.Background(), m, Content{Prefix: prefix, Body: f, Size: int64(len("Subject: x\n\nbody\n"))})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(string(m), "new", name))
	if err != nil {
		t.Fatal(err)
	}
	want := string(prefix) + "Subject: x\n\nbody\n"
	if string(got) != want {
		t.Errorf("delivered %q, want %q", got, want)
	}
	if !strings.Contains(name, `.mx.example\072test\057x,S=`) || !strings.HasSuffix(name, ",S="+strconv.Itoa(len(want))) {
		t.Errorf("name %q lacks the encoded host or the size", name)
	}
	if left, _ := os.ReadDir(filepath.Join(string(m), "tmp")); len(left) != 0 {
		t.Errorf("tmp/ not empty: %v", left)
	}

	// A short body is an error and leaves nothing behind.
	_, err = w.Deliver(context.Background(), m, Content{Body: strings.NewReader("abc"), Size: 10})
	if !errors.Is(err, ErrShortContent) {
		t.Errorf("short body: %v", err)
	}
	if left, _ := os.ReadDir(filepath.Join(string(m), "tmp")); len(left) != 0 {
		t.Errorf("tmp/ not empty after failure: %v", left)
	}
}

func TestDeliverConcurrentUnique(t *testing.T) {
	m := Maildir(t.TempDir())
	m.Init(0o700)
	w := NewWriter("h")
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w.Deliver(context.Background(), m, Content{Body: strings.NewReader("x\n"), Size: 2}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ents, _ := os.ReadDir(filepath.Join(string(m), "new")); len(ents) != 100 {
		t.Errorf("%d files in new/, want 100", len(ents))
	}
}
