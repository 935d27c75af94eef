package deliver_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"mailhorn/internal/deliver"
	"mailhorn/internal/deliver/delivertest"
	"mailhorn/internal/store"
)

func TestWriteDSN(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{syscall.EAGAIN, "4.2.0"},
		{&fs.PathError{Op: "open", Path: "/x", Err: syscall.ESTALE}, "4.2.0"},
		{os.ErrExist, "4.2.0"},
		{fmt.Errorf("write: %w", syscall.ENOSPC), "4.3.0"},
		{syscall.EDQUOT, "5.2.2"},
		{syscall.EFBIG, "5.2.2"},
		{context.Canceled, "4.3.0"},
		{context.DeadlineExceeded, "4.3.0"},
		{syscall.EIO, "def"},
		{errors.New("other"), "def"},
	} {
		if got := deliver.WriteDSN(tc.err, "def"); got != tc.want {
			t.Errorf("WriteDSN(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
	if deliver.StatusOf("5.2.2") != deliver.Bounced || deliver.StatusOf("4.2.0") != deliver.Deferred || deliver.StatusOf("") != deliver.Deferred {
		t.Error("StatusOf: 5.X.X bounces, the rest defers")
	}
}

func TestEachRecipient(t *testing.T) {
	req := delivertest.Request(t, "Delivered-To: Looped@Example.test\nSubject: x\n\nbody\n", "a@example.test", "looped@example.test")
	asked := 0
	one := func(r deliver.Recipient) deliver.Result {
		asked++
		return deliver.Resultf(deliver.Sent, "2.0.0", "ok %s", r.Address)
	}
	res := deliver.EachRecipient(context.Background(), req, "test", 0, one)
	if len(res) != 2 || asked != 1 {
		t.Fatalf("results %+v, one asked %d times", res, asked)
	}
	if r := res[0]; r.Index != 0 || r.Relay != "test" || r.Status != deliver.Sent || r.Text != "ok a@example.test" {
		t.Errorf("first: %+v", r)
	}
	if r := res[1]; r.Index != 1 || r.Status != deliver.Bounced || r.DSN != "5.4.6" || r.Text != "mail forwarding loop for looped@example.test" {
		t.Errorf("loop: %+v", r)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res = deliver.EachRecipient(ctx, req, "test", 0, one)
	if res[0].Status != deliver.Deferred || res[0].DSN != "4.3.0" || asked != 1 {
		t.Errorf("cancelled: %+v", res[0])
	}

	req.Path = filepath.Join(t.TempDir(), "gone")
	res = deliver.EachRecipient(context.Background(), req, "test", 0, one)
	if len(res) != 2 || res[1].Index != 1 || res[1].Status != deliver.Deferred || res[1].DSN != "4.3.0" {
		t.Errorf("unreadable queue file: %+v", res)
	}
}

func TestMaildir(t *testing.T) {
	w := store.NewWriter("host.example.test")
	dir := store.Maildir(filepath.Join(t.TempDir(), "Maildir"))
	msg := "Subject: x\n\nbody\n"
	req := delivertest.Request(t, msg, "bob@example.test")
	prefix := []byte("Delivered-To: bob@example.test\n")

	r := deliver.Maildir(context.Background(), w, req, dir, nil, prefix, int64(len(prefix)+len(msg)-1))
	if r.Status != deliver.Bounced || r.DSN != "5.2.2" || r.Text != "maildir delivery failed: error writing message: file too large" {
		t.Errorf("over the limit: %+v", r)
	}
	r = deliver.Maildir(context.Background(), w, req, dir, nil, prefix, int64(len(prefix)+len(msg)))
	if r.Status != deliver.Sent || r.DSN != "2.0.0" || r.Text != "delivered to maildir" {
		t.Fatalf("at the limit: %+v", r)
	}
	ents, err := os.ReadDir(filepath.Join(string(dir), "new"))
	if err != nil || len(ents) != 1 {
		t.Fatalf("new/: %v %v", ents, err)
	}
	got, err := os.ReadFile(filepath.Join(string(dir), "new", ents[0].Name()))
	if err != nil || string(got) != string(prefix)+msg {
		t.Errorf("message %q %v", got, err)
	}

	// A Maildir that cannot be created: a file is in the way.
	blocked := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocked, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r = deliver.Maildir(context.Background(), w, req, store.Maildir(filepath.Join(blocked, "Maildir")), nil, prefix, 0)
	if r.Status != deliver.Deferred || r.DSN != "4.2.0" {
		t.Errorf("uncreatable Maildir: %+v", r)
	}
}
