package cleanup

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"mailhorn/internal/queue"
)

func TestRecipients(t *testing.T) {
	rw := &fakeRewriter{
		canonical: map[string]string{"postmaster@local.test": "root@local.test"},
		virtual: map[string][]string{
			"team@example.com": {"ann@example.com", "ben@example.com"},
			"ann@example.com":  {"ann@example.com"},
			"self@example.com": {"self@example.com"},
		},
	}
	R := func(addr, orig string) queue.Recipient {
		return queue.Recipient{Address: addr, Original: orig, Status: queue.StatusPending}
	}
	tests := []struct {
		name string
		opt  func(*Options)
		in   []Recipient
		want []queue.Recipient
	}{
		{name: "plain", in: []Recipient{{Address: "bob@example.com"}},
			want: []queue.Recipient{R("bob@example.com", "")}},
		{name: "completed and canonical", in: []Recipient{{Address: "bob"}, {Address: "postmaster"}},
			want: []queue.Recipient{R("bob@local.test", "bob"), R("root@local.test", "postmaster")}},
		{name: "duplicates", in: []Recipient{{Address: "bob@example.com"}, {Address: "bob@example.com"}, {Address: "BOB@example.com"}},
			want: []queue.Recipient{R("bob@example.com", "")}},
		{name: "same mailbox, different original addresses", in: []Recipient{{Address: "bob@local.test"}, {Address: "bob"}},
			want: []queue.Recipient{R("bob@local.test", ""), R("bob@local.test", "bob")}},
		{name: "virtual", in: []Recipient{{Address: "team@example.com"}, {Address: "ann@example.com"}},
			want: []queue.Recipient{R("ann@example.com", "team@example.com"), R("ben@example.com", "team@example.com"), R("ann@example.com", "")}},
		{name: "virtual to itself", in: []Recipient{{Address: "self@example.com"}},
			want: []queue.Recipient{R("self@example.com", "")}},
		{name: "empty recipient", in: []Recipient{{Address: ""}},
			want: []queue.Recipient{R("MAILER-DAEMON@local.test", "")}},
		{name: "no original recipient", opt: func(o *Options) { o.EnableOriginalRecipient = false },
			in:   []Recipient{{Address: "bob@local.test"}, {Address: "bob"}, {Address: "team@example.com"}, {Address: "ann@example.com"}},
			want: []queue.Recipient{R("bob@local.test", ""), R("ann@example.com", ""), R("ben@example.com", "")}},
		{name: "duplicate filter limit", opt: func(o *Options) { o.DuplicateFilterLimit = 1 },
			in:   []Recipient{{Address: "a@x"}, {Address: "b@x"}, {Address: "b@x"}, {Address: "a@x"}},
			want: []queue.Recipient{R("a@x", ""), R("b@x", ""), R("b@x", "")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := DefaultOptions()
			if tt.opt != nil {
				tt.opt(&opt)
			}
			e := newEnv(t, rw, opt)
			m := &Message{Sender: "alice@example.org", Recipients: tt.in}
			id, err := e.c.Submit(context.Background(), m, strings.NewReader("Subject: s\n\nb\n"))
			if err != nil {
				t.Fatal(err)
			}
			f, _ := e.read(id)
			if got := stripOffsets(f.Recipients); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("recipients:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// stripOffsets returns the recipients as a test builds them (without their
// file offsets).
func stripOffsets(rs []queue.Recipient) []queue.Recipient {
	out := make([]queue.Recipient, len(rs))
	for i, r := range rs {
		out[i] = queue.Recipient{Address: r.Address, Original: r.Original, ORCPT: r.ORCPT, Notify: r.Notify, Status: r.Status}
	}
	return out
}

func TestRecipientDSN(t *testing.T) {
	rw := &fakeRewriter{virtual: map[string][]string{"team@example.com": {"ann@example.com", "ben@example.com"}}}
	e := newEnv(t, rw, DefaultOptions())
	m := &Message{Sender: "alice@example.org", Recipients: []Recipient{
		{Address: "bob@example.com", ORCPT: "rfc822;bob@example.com", Notify: queue.NotifySuccess | queue.NotifyFailure},
		{Address: "bob@example.com", ORCPT: "rfc822;bob@example.com", Notify: queue.NotifySuccess | queue.NotifyFailure},
		{Address: "bob@example.com", Notify: queue.NotifyFailure}, // different DSN: kept
		{Address: "team@example.com", ORCPT: "rfc822;team@example.com", Notify: queue.NotifySuccess},
		{Address: "team@example.com", Notify: queue.NotifySuccess | queue.NotifyDelay},
	}}
	id, err := e.c.Submit(context.Background(), m, strings.NewReader("\n"))
	if err != nil {
		t.Fatal(err)
	}
	f, _ := e.read(id)
	P := queue.StatusPending
	want := []queue.Recipient{
		{Address: "bob@example.com", ORCPT: "rfc822;bob@example.com", Notify: queue.NotifySuccess | queue.NotifyFailure, Status: P},
		{Address: "bob@example.com", Notify: queue.NotifyFailure, Status: P},
		// RFC 3461 §6.2.7.3, as Postfix: SUCCESS is not passed on to the
		// members of an expanded alias; SUCCESS alone becomes NEVER.
		{Address: "ann@example.com", Original: "team@example.com", ORCPT: "rfc822;team@example.com", Notify: queue.NotifyNever, Status: P},
		{Address: "ben@example.com", Original: "team@example.com", ORCPT: "rfc822;team@example.com", Notify: queue.NotifyNever, Status: P},
		{Address: "ann@example.com", Original: "team@example.com", Notify: queue.NotifyDelay, Status: P},
		{Address: "ben@example.com", Original: "team@example.com", Notify: queue.NotifyDelay, Status: P},
	}
	if got := stripOffsets(f.Recipients); !reflect.DeepEqual(got, want) {
		t.Errorf("recipients:\n got %+v\nwant %+v", got, want)
	}
}

func TestSender(t *testing.T) {
	rw := &fakeRewriter{canonical: map[string]string{"alice@local.test": "Alice.Smith@example.org"}}
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"alice", "Alice.Smith@example.org"},
		{"bob@example.net", "bob@example.net"},
		{"MAILER-DAEMON", ""},
		{"mailer-daemon@Local.Test", ""},
		{"MAILER-DAEMON@example.net", "MAILER-DAEMON@example.net"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			opt := DefaultOptions()
			opt.Myorigin = "local.test"
			e := newEnv(t, rw, opt)
			m := &Message{Sender: tt.in, Recipients: []Recipient{{Address: "bob@example.com"}}}
			id, err := e.c.Submit(context.Background(), m, strings.NewReader("\n"))
			if err != nil {
				t.Fatal(err)
			}
			if f, _ := e.read(id); f.Sender != tt.want {
				t.Errorf("sender %q -> %q, want %q", tt.in, f.Sender, tt.want)
			}
		})
	}
}

func TestEnvelopeAndAttrs(t *testing.T) {
	e := newEnv(t, nil, DefaultOptions())
	m := simpleMsg("bob@example.com")
	m.Attrs = []queue.Attr{{Name: queue.AttrClientName, Value: "client.example.org"}, {Name: queue.AttrClientAddr, Value: "192.0.2.1"}, {Name: queue.AttrRet, Value: "HDRS"}}
	var early string
	m.OnQueueID = func(id string) {
		early = id
		if e.log.Len() != 0 {
			t.Errorf("cleanup logged before OnQueueID: %s", e.log)
		}
	}
	id, err := e.c.Submit(context.Background(), m, strings.NewReader("Message-ID: <abc@example.org>\n\nhi\n"))
	if err != nil {
		t.Fatal(err)
	}
	if early != id {
		t.Errorf("OnQueueID got %q, Submit returned %q", early, id)
	}
	f, _ := e.read(id)
	if !reflect.DeepEqual(f.Attrs, m.Attrs) || f.Sender != "alice@example.org" || !f.Arrival.Equal(testTime) {
		t.Errorf("envelope = %+v", f.Envelope)
	}
	if !reflect.DeepEqual(e.note.ids, []string{id}) {
		t.Errorf("notified %v, want [%s]", e.note.ids, id)
	}
	if want := "mailhorn/cleanup[" + pidString() + "]: " + id + ": message-id=<abc@example.org>\n"; !strings.HasSuffix(e.log.String(), want) {
		t.Errorf("log = %q, want a line ending in %q", e.log, want)
	}
}

func TestRejections(t *testing.T) {
	limitErr := &Error{Code: 451, DSN: "4.6.0", Text: "Alias expansion error"}
	rw := &fakeRewriter{fail: map[string]error{
		"broken@example.com":          errDisk,
		"virtual:vbroken@example.com": errDisk,
		"loop@example.com":            fmt.Errorf("expanding: %w", limitErr),
		"badsender@example.org":       errDisk,
	}}
	for _, tt := range []struct {
		name   string
		sender string
		rcpts  []string
		code   int
		dsn    string
		cause  error
	}{
		{"recipient lookup", "alice@example.org", []string{"ok@example.com", "broken@example.com"}, 451, "4.3.0", errDisk},
		{"virtual lookup", "alice@example.org", []string{"vbroken@example.com"}, 451, "4.3.0", errDisk},
		{"sender lookup", "badsender@example.org", []string{"ok@example.com"}, 451, "4.3.0", errDisk},
		{"rewriter's own reply", "alice@example.org", []string{"loop@example.com"}, 451, "4.6.0", nil},
		{"no recipients", "alice@example.org", nil, 550, "5.1.0", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, rw, DefaultOptions())
			m := simpleMsg(tt.rcpts...)
			m.Sender = tt.sender
			_, err := e.c.Submit(context.Background(), m, strings.NewReader("Subject: s\n\nb\n"))
			var ce *Error
			if !errors.As(err, &ce) || ce.Code != tt.code || ce.DSN != tt.dsn {
				t.Fatalf("err = %v, want %d %s", err, tt.code, tt.dsn)
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Errorf("err %v does not wrap %v", err, tt.cause)
			}
			if ce.Temporary() != (tt.code/100 == 4) {
				t.Errorf("Temporary() = %v", ce.Temporary())
			}
			if f := e.files(); len(f) != 0 {
				t.Errorf("files left behind: %v", f)
			}
			if len(e.note.ids) != 0 {
				t.Errorf("notified %v", e.note.ids)
			}
		})
	}
}

// TestReaderFails: a content reader that fails, in the header block or in
// the body, gives a plain error and leaves no queue file behind.
func TestReaderFails(t *testing.T) {
	for _, tt := range []struct{ name, data string }{
		{"at once", ""},
		{"in the headers", "Subject: s\nX-Long: "},
		{"in the body", "Subject: s\n\n" + strings.Repeat("body line\n", 10000)},
		{"after a big header block", strings.Repeat("X-H: 0123456789012345678901234567890123456789\n", 5000)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil, DefaultOptions())
			_, err := e.c.Submit(context.Background(), simpleMsg("bob@example.com"), &failingReader{data: []byte(tt.data), err: errDisk})
			var ce *Error
			if err == nil || errors.As(err, &ce) || !errors.Is(err, errDisk) {
				t.Fatalf("err = %v, want a plain error wrapping %v", err, errDisk)
			}
			if f := e.files(); len(f) != 0 {
				t.Errorf("files left behind: %v", f)
			}
			if len(e.note.ids) != 0 {
				t.Errorf("notified %v", e.note.ids)
			}
		})
	}
}

func TestContextCanceled(t *testing.T) {
	e := newEnv(t, nil, DefaultOptions())
	ctx, cancel := context.WithCancel(context.Background())
	r := &cancelReader{data: []byte("Subject: s\n\n" + strings.Repeat("line\n", 100000)), cancel: cancel, after: 100000}
	_, err := e.c.Submit(ctx, simpleMsg("bob@example.com"), r)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if f := e.files(); len(f) != 0 {
		t.Errorf("files left behind: %v", f)
	}
}

// cancelReader cancels a context once after bytes have been read.
type cancelReader struct {
	data   []byte
	n      int
	after  int
	cancel func()
}

func (r *cancelReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, errors.New("unexpected end")
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	if r.n += n; r.n >= r.after {
		r.cancel()
	}
	return n, nil
}

func TestQueueWriteFailure(t *testing.T) {
	e := newEnv(t, nil, DefaultOptions())
	// A queue whose incoming directories are gone cannot create files.
	if err := removeAll(e.q.Dir() + "/incoming"); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.Submit(context.Background(), simpleMsg("bob@example.com"), strings.NewReader("Subject: s\n\nb\n"))
	var ce *Error
	if err == nil || errors.As(err, &ce) || !strings.HasPrefix(err.Error(), "cleanup: ") {
		t.Fatalf("err = %v, want a plain cleanup error", err)
	}
}

func TestConcurrentSubmissions(t *testing.T) {
	rw := &fakeRewriter{virtual: map[string][]string{"team@example.com": {"ann@example.com", "ben@example.com"}}}
	e := newEnv(t, rw, DefaultOptions())
	const workers, each = 8, 10
	var wg sync.WaitGroup
	ids := make(chan string, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				m := simpleMsg("team@example.com", fmt.Sprintf("u%d@example.com", w))
				m.Local = true
				body := fmt.Sprintf("Subject: %d/%d\r\n\r\n%s", w, i, strings.Repeat("text\r\n", 100*i))
				id, err := e.c.Submit(context.Background(), m, strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				ids <- id
			}
		}(w)
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("ID %s returned twice", id)
		}
		seen[id] = true
		f, content := e.read(id)
		if len(f.Recipients) != 3 || !strings.Contains(content, "Message-Id: <20240305130709."+id+"@") {
			t.Errorf("%s: recipients %v, content %q", id, f.Recipients, trunc(content))
		}
	}
	if len(seen) != workers*each || len(e.note.ids) != workers*each {
		t.Errorf("%d IDs, %d notifications, want %d", len(seen), len(e.note.ids), workers*each)
	}
}
