package pop3d

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailhorn/internal/auth"
	"mailhorn/internal/store"
)

// newStoreServer is a Server over the real message store, each user's
// tree in dir/NAME, bob's INBOX holding the given messages.
func newStoreServer(t *testing.T, msgs ...string) (*Server, *store.Store, string) {
	t.Helper()
	dir := t.TempDir()
	st := store.New(store.Options{})
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	u, err := st.OpenUser(ctx, filepath.Join(dir, "bob"), store.Quota{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if _, _, err := u.Append(ctx, "INBOX", strings.NewReader(m), nil, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	u.Close()
	srv := &Server{
		Opts:  testOptions(t),
		Auth:  newAuth(t, nil),
		Store: st,
		Users: func(_ context.Context, u *auth.User) (string, store.Quota, error) {
			return filepath.Join(dir, u.Name), store.Quota{}, nil
		},
	}
	return srv, st, dir
}

// files lists the message files of a Maildir (new/ and cur/).
func files(t *testing.T, maildir string) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"new", "cur"} {
		es, err := os.ReadDir(filepath.Join(maildir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			out = append(out, sub+"/"+e.Name())
		}
	}
	return out
}

// TestRealStore runs a session over the real store: sizes with CRLF
// (the messages are appended with bare LF), UIDL stable across sessions
// and equal to the store's UIDVALIDITY and UIDs, RETR flags \Seen at
// QUIT, DELE + lost connection keeps the file, DELE + QUIT removes it.
func TestRealStore(t *testing.T) {
	srv, st, dir := newStoreServer(t,
		"Subject: one\n\nline\n.dot\n",
		"Subject: two\n\nsecond\n",
		"Subject: three\n\nthird\n")
	ts := startServer(t, srv)
	ctx := context.Background()
	u, err := st.OpenUser(ctx, filepath.Join(dir, "bob"), store.Quota{})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	status, err := u.Status(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}

	c := dial(t, ts.addr)
	c.login("bob", bobPassword)
	if r := c.do("STAT"); r != "+OK 3 77" {
		t.Errorf("STAT: %q", r)
	}
	uidl := func(c *client) []string {
		c.do("UIDL")
		var ids []string
		for l := c.line(); l != "."; l = c.line() {
			ids = append(ids, l)
		}
		return ids
	}
	first := uidl(c)
	want := []string{"1 " + UIDL(status.UIDValidity, 1), "2 " + UIDL(status.UIDValidity, 2), "3 " + UIDL(status.UIDValidity, 3)}
	if strings.Join(first, ",") != strings.Join(want, ",") {
		t.Errorf("UIDL %v, want %v", first, want)
	}
	if r := c.do("RETR 1"); r != "+OK 28 octets" {
		t.Fatalf("RETR: %q", r)
	}
	var body []string
	for l := c.line(); l != "."; l = c.line() {
		body = append(body, l)
	}
	if got := strings.Join(body, "|"); got != "Subject: one||line|..dot" {
		t.Errorf("RETR 1: %q", got)
	}
	c.do("DELE 2")
	c.conn.Close() // lost: nothing happens
	maildir := filepath.Join(dir, "bob")
	deadline := time.Now().Add(30 * time.Second)
	var d *client
	for {
		d = dial(t, ts.addr)
		r := d.login("bob", bobPassword)
		if r == "+OK Logged in." {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("login: %q", r)
		}
		d.conn.Close()
		time.Sleep(10 * time.Millisecond)
	}
	if got := uidl(d); strings.Join(got, ",") != strings.Join(first, ",") {
		t.Errorf("UIDL in the second session %v, want %v", got, first)
	}
	if n := len(files(t, maildir)); n != 3 {
		t.Fatalf("%d files after a lost connection", n)
	}
	d.do("RETR 3")
	for l := d.line(); l != "."; l = d.line() {
	}
	d.do("DELE 2")
	if r := d.do("QUIT"); r != "+OK Logging out, messages deleted." {
		t.Fatalf("QUIT: %q", r)
	}
	d.closed()
	// +OK came after the expunge: the file is already gone.
	if n := len(files(t, maildir)); n != 2 {
		t.Errorf("files after QUIT: %v", files(t, maildir))
	}
	m, err := u.Open(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	msgs := m.Messages()
	if len(msgs) != 2 || msgs[0].UID != 1 || msgs[1].UID != 3 {
		t.Fatalf("messages after QUIT: %+v", msgs)
	}
	if !contains(msgs[1].Flags, store.FlagSeen) || contains(msgs[0].Flags, store.FlagSeen) {
		t.Errorf("flags: 1 %v, 3 %v (RETR 1 was in the lost session, RETR 3 in the one that quit)", msgs[0].Flags, msgs[1].Flags)
	}
	// A third session numbers the rest 1..2 with the same UIDLs.
	e := dial(t, ts.addr)
	e.login("bob", bobPassword)
	if got := uidl(e); strings.Join(got, ",") != "1 "+UIDL(status.UIDValidity, 1)+",2 "+UIDL(status.UIDValidity, 3) {
		t.Errorf("UIDL after the expunge: %v", got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
