package maildrop

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"mailhorn/internal/cleanup"
	"mailhorn/internal/queue"
)

var testNow = time.Date(2024, 3, 5, 14, 7, 9, 0, time.UTC)

// write makes a maildrop file in a temp directory and returns its path.
func write(t *testing.T, env *Envelope, content string, extra []cleanup.Recipient, limit int64) (string, error) {
	t.Helper()
	dir := t.TempDir()
	w, err := Create(dir, env, limit, testNow)
	if err != nil {
		return "", err
	}
	if _, err := io.WriteString(w.Content(), content); err != nil {
		w.Abort()
		return "", err
	}
	for _, r := range extra {
		w.AddRecipient(r)
	}
	name, err := w.Commit()
	if err != nil {
		return "", err
	}
	if !ValidName(name) {
		t.Fatalf("final name %q is not valid", name)
	}
	return filepath.Join(dir, name), nil
}

func decodeFile(t *testing.T, path string) (*File, string, error) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Decode(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, "", err
	}
	return f, string(b[f.ContentOffset : f.ContentOffset+f.ContentSize]), nil
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		env   Envelope
		extra []cleanup.Recipient
	}{
		{"owner sender", Envelope{Recipients: []cleanup.Recipient{{Address: "bob@example.org"}}}, nil},
		{"given sender and options", Envelope{
			Sender: "list-owner@example.org", SenderGiven: true, FullName: "Joe Q. Public",
			Remote: true, EnvID: "abc123", Ret: "HDRS", Body: "8BITMIME", SMTPUTF8: true,
			Recipients: []cleanup.Recipient{{Address: "a@x", Notify: queue.NotifySuccess | queue.NotifyDelay, ORCPT: "rfc822;a@x"}},
		}, []cleanup.Recipient{{Address: "from-header@x", Notify: queue.NotifyNever}}},
		{"null sender, only extracted recipients", Envelope{SenderGiven: true}, []cleanup.Recipient{{Address: "c"}, {Address: ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			content := "Subject: hi\n\nbody\n.\n"
			path, err := write(t, &tt.env, content, tt.extra, 0)
			if err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(path)
			if err != nil || st.Mode().Perm() != 0o644 {
				t.Fatalf("stat %v, mode %v; want 0644", err, st.Mode())
			}
			f, got, err := decodeFile(t, path)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.env
			want.Recipients = append(append([]cleanup.Recipient(nil), tt.env.Recipients...), tt.extra...)
			if !reflect.DeepEqual(f.Envelope, want) {
				t.Errorf("envelope\n got %+v\nwant %+v", f.Envelope, want)
			}
			if got != content {
				t.Errorf("content %q, want %q", got, content)
			}
		})
	}
}

func TestSenderIgnoredUnlessGiven(t *testing.T) {
	path, err := write(t, &Envelope{Sender: "forged@x", Recipients: []cleanup.Recipient{{Address: "a"}}}, "x\n", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := decodeFile(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if f.SenderGiven || f.Sender != "" {
		t.Errorf("sender %q given=%v; a sender not given must not be stored", f.Sender, f.SenderGiven)
	}
}

func TestTooBig(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, &Envelope{Recipients: []cleanup.Recipient{{Address: "a"}}}, 200, testNow)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.WriteString(w.Content(), strings.Repeat("x", 300))
	if !errors.Is(err, ErrTooBig) {
		t.Fatalf("write: %v, want ErrTooBig", err)
	}
	if _, err := w.Commit(); !errors.Is(err, ErrTooBig) {
		t.Fatalf("commit: %v, want ErrTooBig", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

func TestWriterRefusesBadFields(t *testing.T) {
	for _, env := range []Envelope{
		{SenderGiven: true, Sender: "a\nb"},
		{FullName: "x\x00"},
		{EnvID: strings.Repeat("e", 101)},
		{EnvID: "has\ttab"},
		{Recipients: []cleanup.Recipient{{Address: "a\rb"}}},
		{Recipients: []cleanup.Recipient{{Address: "a", Notify: queue.NotifyNever | queue.NotifyDelay}}},
	} {
		dir := t.TempDir()
		w, err := Create(dir, &env, 0, testNow)
		if err == nil {
			_, err = w.Commit()
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%+v: error %v, want ErrCorrupt", env, err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("%+v: left behind %v", env, ents)
		}
	}
}

// encode writes a queue-format file directly, as a malicious user could.
func encode(env *queue.Envelope, rcpts []queue.Recipient, content string) []byte {
	var b buf
	e := queue.NewEncoder(&b, env)
	io.WriteString(e.Content(), content)
	e.EndContent()
	for _, r := range rcpts {
		e.AddRecipient(r)
	}
	e.Finish()
	return b.b
}

type buf struct{ b []byte }

func (b *buf) WriteAt(p []byte, off int64) (int, error) {
	if need := int(off) + len(p); need > len(b.b) {
		b.b = append(b.b, make([]byte, need-len(b.b))...)
	}
	return copy(b.b[off:], p), nil
}

func TestDecodeRefuses(t *testing.T) {
	ok := []queue.Recipient{{Address: "a@x"}}
	env := func(attrs ...queue.Attr) *queue.Envelope {
		return &queue.Envelope{Arrival: testNow, Sender: "s@x", Attrs: attrs}
	}
	good := encode(env(), ok, "x\n")
	// A delay-warning record ("W", length 1, "1") after the end record.
	withAppended := append(append([]byte(nil), good...), 'W', 1, '1')
	tests := []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)-1]},
		{"garbage", []byte("From root Mon Jan 1\nSubject: x\n")},
		{"appended records", withAppended},
		{"bad ret", encode(env(queue.Attr{Name: "ret", Value: "ALL"}), ok, "")},
		{"bad body", encode(env(queue.Attr{Name: "body", Value: "9BIT"}), ok, "")},
		{"bad context", encode(env(queue.Attr{Name: AttrRewriteContext, Value: "trusted"}), ok, "")},
		{"bad sender_given", encode(env(queue.Attr{Name: AttrSenderGiven, Value: "no"}), ok, "")},
		{"twice", encode(env(queue.Attr{Name: "envid", Value: "a"}, queue.Attr{Name: "envid", Value: "b"}), ok, "")},
		{"control in fullname", encode(env(queue.Attr{Name: AttrFullName, Value: "a\x1bb"}), ok, "")},
		{"long envid", encode(env(queue.Attr{Name: "envid", Value: strings.Repeat("x", 101)}), ok, "")},
		{"control in sender", encode(&queue.Envelope{Arrival: testNow, Sender: "a\nb", Attrs: []queue.Attr{{Name: AttrSenderGiven, Value: "yes"}}}, ok, "")},
		{"newline in recipient", encode(env(), []queue.Recipient{{Address: "a\nRCPT TO:<b>"}}, "")},
		{"done recipient", encode(env(), []queue.Recipient{{Address: "a", Status: queue.StatusDone}}, "")},
		{"original recipient", encode(env(), []queue.Recipient{{Address: "a", Original: "b"}}, "")},
		{"bad notify", encode(env(), []queue.Recipient{{Address: "a", Notify: 0x40}}, "")},
		{"no recipients", encode(env(), nil, "")},
		{"long recipient", encode(env(), []queue.Recipient{{Address: strings.Repeat("a", MaxField+1)}}, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(tt.file), int64(len(tt.file)))
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("Decode: %v, want ErrCorrupt", err)
			}
		})
	}
	if _, err := Decode(bytes.NewReader(good), int64(len(good))); err != nil {
		t.Errorf("the good file: %v", err)
	}
}

func TestNames(t *testing.T) {
	n1, _ := newName(testNow)
	n2, _ := newName(testNow)
	if n1 == n2 || !ValidName(n1) || IsTemp(n1) || !IsTemp(TempPrefix+n1) {
		t.Errorf("names %q %q", n1, n2)
	}
	for _, bad := range []string{"", "6457F2A1C04D2001", strings.ToLower(n1), n1 + "0", TempPrefix} {
		if ValidName(bad) {
			t.Errorf("ValidName(%q)", bad)
		}
	}
}
