package pickup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mailhorn/internal/cleanup"
	"mailhorn/internal/maildrop"
	"mailhorn/internal/maillog"
	"mailhorn/internal/queue"
)

// fakeRewriter completes addresses without a domain with @local.test.
type fakeRewriter struct{}

func (fakeRewriter) Canonical(_ context.Context, addr string, _ cleanup.Class, _ bool) (string, error) {
	if addr != "" && !strings.Contains(addr, "@") {
		addr += "@local.test"
	}
	return addr, nil
}

func (fakeRewriter) ExpandVirtual(_ context.Context, addr string) ([]string, error) {
	return []string{addr}, nil
}

// fakeUsers knows the test's own uid as "alice".
type fakeUsers map[int]string

func (u fakeUsers) LookupID(_ context.Context, uid int) (string, bool, error) {
	name, ok := u[uid]
	return name, ok, nil
}

// syncBuffer is a log buffer safe for the Run goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testEnv struct {
	t   *testing.T
	dir string
	q   *queue.Queue
	log *syncBuffer
	s   *Service
	sub func(ctx context.Context, m *cleanup.Message, r io.Reader) (string, error)
}

var mtime = time.Date(2024, 3, 5, 14, 7, 9, 0, time.UTC)

func newEnv(t *testing.T, users Users, opt func(*cleanup.Options)) *testEnv {
	t.Helper()
	dir := t.TempDir()
	q, err := queue.Open(dir, queue.NewIDSource(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := Prepare(dir); err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	ml := maillog.New(log, "mailhorn", "host")
	o := cleanup.DefaultOptions()
	o.Hostname = "host.example"
	if opt != nil {
		opt(&o)
	}
	c := cleanup.New(q, fakeRewriter{}, nil, ml.Service("cleanup"), o)
	e := &testEnv{t: t, dir: dir, q: q, log: log, sub: c.Submit}
	if users == nil {
		users = fakeUsers{os.Getuid(): "alice"}
	}
	e.s, err = New(Options{
		Dir: dir, Log: ml.Service("pickup"), Users: users, Hostname: "host.example",
		Submit: func(ctx context.Context, m *cleanup.Message, r io.Reader) (string, error) { return e.sub(ctx, m, r) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// drop writes a maildrop file as sendmail does and returns its name.
func (e *testEnv) drop(env *maildrop.Envelope, content string) string {
	e.t.Helper()
	w, err := maildrop.Create(filepath.Join(e.dir, queue.Maildrop), env, 0, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	io.WriteString(w.Content(), content)
	name, err := w.Commit()
	if err != nil {
		e.t.Fatal(err)
	}
	os.Chtimes(filepath.Join(e.dir, queue.Maildrop, name), mtime, mtime)
	return name
}

func (e *testEnv) maildrop() []string { return e.list(queue.Maildrop) }
func (e *testEnv) corrupt() []string  { return e.list(queue.Corrupt) }

func (e *testEnv) list(sub string) []string {
	ents, err := os.ReadDir(filepath.Join(e.dir, sub))
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, d := range ents {
		out = append(out, d.Name())
	}
	return out
}

// queued returns the one queue file in incoming/ and its content.
func (e *testEnv) queued() (*queue.File, string) {
	e.t.Helper()
	ents, err := e.q.Scan(queue.Incoming)
	if err != nil || len(ents) != 1 {
		e.t.Fatalf("incoming: %v %v; want one file", ents, err)
	}
	f, err := e.q.Read(queue.Incoming, ents[0].ID)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := os.ReadFile(e.q.Path(queue.Incoming, ents[0].ID))
	return f, string(b[f.ContentOffset : f.ContentOffset+f.ContentSize])
}

func TestPickup(t *testing.T) {
	uid := os.Getuid()
	tests := []struct {
		name       string
		env        maildrop.Envelope
		wantSender string
		wantFrom   string // in the From: header cleanup adds
		wantAttrs  []string
	}{
		{"sender from the file owner", maildrop.Envelope{FullName: "Alice Q", Recipients: []cleanup.Recipient{{Address: "bob@example.org"}}},
			"alice@local.test", "From: Alice Q <alice@local.test>", []string{"protocol=local"}},
		{"sender given with -f", maildrop.Envelope{SenderGiven: true, Sender: "list@example.org", EnvID: "e1", Ret: "HDRS",
			Recipients: []cleanup.Recipient{{Address: "bob@example.org", Notify: queue.NotifyNever}}},
			"list@example.org", "From: list@example.org", []string{"protocol=local", "envid=e1", "ret=HDRS"}},
		{"null sender", maildrop.Envelope{SenderGiven: true, Recipients: []cleanup.Recipient{{Address: "bob"}}},
			"", "From: MAILER-DAEMON", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil, nil)
			e.drop(&tt.env, "Subject: hi\n\nbody\n")
			if err := e.s.Scan(context.Background()); err != nil {
				t.Fatal(err)
			}
			if left := e.maildrop(); len(left) != 0 {
				t.Errorf("maildrop still holds %v", left)
			}
			f, content := e.queued()
			if f.Sender != tt.wantSender {
				t.Errorf("sender %q, want %q", f.Sender, tt.wantSender)
			}
			if len(f.Recipients) != len(tt.env.Recipients) || f.Recipients[0].Notify != tt.env.Recipients[0].Notify {
				t.Errorf("recipients %+v", f.Recipients)
			}
			var attrs []string
			for _, a := range f.Attrs {
				attrs = append(attrs, a.Name+"="+a.Value)
			}
			if strings.Join(attrs, " ") != strings.Join(tt.wantAttrs, " ") && tt.wantAttrs != nil {
				t.Errorf("attrs %v, want %v", attrs, tt.wantAttrs)
			}
			ents, _ := e.q.Scan(queue.Incoming)
			wantRcvd := fmt.Sprintf("Received: by host.example (mailhorn, from userid %d)\n\tid %s; Tue,  5 Mar 2024", uid, ents[0].ID)
			if !strings.HasPrefix(content, wantRcvd) {
				t.Errorf("content does not start with %q:\n%s", wantRcvd, content)
			}
			if !strings.Contains(content, tt.wantFrom) {
				t.Errorf("content lacks %q:\n%s", tt.wantFrom, content)
			}
			logged := fmt.Sprintf(": uid=%d from=<%s>", uid, strings.TrimSuffix(tt.wantSender, "@local.test"))
			if tt.wantSender == "alice@local.test" {
				logged = fmt.Sprintf(": uid=%d from=<alice>", uid)
			}
			if !strings.Contains(e.log.String(), "mailhorn/pickup") || !strings.Contains(e.log.String(), logged) {
				t.Errorf("log lacks %q:\n%s", logged, e.log)
			}
		})
	}
}

func TestCorruptAndRejected(t *testing.T) {
	tests := []struct {
		name  string
		users Users
		opt   func(*cleanup.Options)
		make  func(e *testEnv) string // returns the file name
		why   string
	}{
		{"garbage", nil, nil, func(e *testEnv) string {
			name := strings.Repeat("A", 45)
			os.WriteFile(filepath.Join(e.dir, queue.Maildrop, name), []byte("To: x\n\nhi\n"), 0o644)
			return name
		}, "corrupt maildrop file"},
		{"unknown owner", fakeUsers{}, nil, func(e *testEnv) string {
			return e.drop(&maildrop.Envelope{Recipients: []cleanup.Recipient{{Address: "b"}}}, "x\n")
		}, "the owner has no account"},
		{"symbolic link", nil, nil, func(e *testEnv) string {
			name := strings.Repeat("B", 45)
			os.Symlink("/etc/passwd", filepath.Join(e.dir, queue.Maildrop, name))
			return name
		}, "symbolic link"},
		{"hard link", nil, nil, func(e *testEnv) string {
			name := e.drop(&maildrop.Envelope{Recipients: []cleanup.Recipient{{Address: "b"}}}, "x\n")
			os.Link(filepath.Join(e.dir, queue.Maildrop, name), filepath.Join(e.dir, "elsewhere"))
			return name
		}, "2 links"},
		{"too big for cleanup", nil, func(o *cleanup.Options) { o.MessageSizeLimit = 300 }, func(e *testEnv) string {
			return e.drop(&maildrop.Envelope{Recipients: []cleanup.Recipient{{Address: "b"}}}, strings.Repeat("x", 400)+"\n")
		}, "rejected: 552 5.3.4 Message size exceeds fixed limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.users, tt.opt)
			name := tt.make(e)
			if err := e.s.Scan(context.Background()); err != nil {
				t.Fatal(err)
			}
			if left := e.maildrop(); len(left) != 0 {
				t.Errorf("maildrop still holds %v", left)
			}
			if c := e.corrupt(); len(c) != 1 || c[0] != name {
				t.Errorf("corrupt/ holds %v, want %s", c, name)
			}
			if !strings.Contains(e.log.String(), "warning: maildrop/"+name) || !strings.Contains(e.log.String(), tt.why) {
				t.Errorf("log lacks the warning %q:\n%s", tt.why, e.log)
			}
			if ents, _ := e.q.Scan(queue.Incoming); len(ents) != 0 {
				t.Errorf("queued %v", ents)
			}
		})
	}
}

// A file stays in maildrop/ until cleanup has queued it.
func TestSubmitFailureKeepsFile(t *testing.T) {
	e := newEnv(t, nil, nil)
	real := e.sub
	e.sub = func(ctx context.Context, m *cleanup.Message, r io.Reader) (string, error) {
		return "", errors.New("queue file write error")
	}
	name := e.drop(&maildrop.Envelope{Recipients: []cleanup.Recipient{{Address: "b"}}}, "x\n")
	if err := e.s.Scan(context.Background()); err == nil || !strings.Contains(err.Error(), "stays in maildrop") {
		t.Errorf("Scan: %v", err)
	}
	e.sub = func(ctx context.Context, m *cleanup.Message, r io.Reader) (string, error) {
		return "", &cleanup.Error{Code: 451, DSN: "4.3.0", Text: "Temporary lookup failure"}
	}
	e.s.Scan(context.Background())
	if left := e.maildrop(); len(left) != 1 || left[0] != name {
		t.Fatalf("maildrop holds %v, want %s", left, name)
	}
	if c := e.corrupt(); len(c) != 0 {
		t.Errorf("corrupt/ holds %v", c)
	}
	e.sub = real
	if err := e.s.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.queued()
	if left := e.maildrop(); len(left) != 0 {
		t.Errorf("maildrop still holds %v", left)
	}
}

func TestTemporaryFiles(t *testing.T) {
	e := newEnv(t, nil, nil)
	md := filepath.Join(e.dir, queue.Maildrop)
	fresh := maildrop.TempPrefix + strings.Repeat("C", 45)
	stale := maildrop.TempPrefix + strings.Repeat("D", 45)
	other := "README"
	for _, n := range []string{fresh, stale, other} {
		os.WriteFile(filepath.Join(md, n), []byte("partial"), 0o644)
	}
	old := time.Now().Add(-25 * time.Hour)
	os.Chtimes(filepath.Join(md, stale), old, old)
	if err := e.s.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.maildrop(), " "); got != other+" "+fresh {
		t.Errorf("maildrop holds %q, want the fresh temporary file and the unknown name", got)
	}
}

func TestPreparePermissions(t *testing.T) {
	e := newEnv(t, nil, nil)
	st, err := os.Stat(filepath.Join(e.dir, queue.Maildrop))
	if err != nil || st.Mode()&(os.ModePerm|os.ModeSticky) != 0o733|os.ModeSticky {
		t.Errorf("maildrop: %v %v, want drwx-wx-wt", st.Mode(), err)
	}
	st, err = os.Lstat(filepath.Join(e.dir, PublicDir, FIFOName))
	if err != nil || st.Mode()&os.ModeNamedPipe == 0 || st.Mode().Perm() != 0o622 {
		t.Errorf("FIFO: %v %v, want prw--w--w-", st.Mode(), err)
	}
	// Prepare again, over a regular file where the FIFO should be.
	os.Remove(filepath.Join(e.dir, PublicDir, FIFOName))
	os.WriteFile(filepath.Join(e.dir, PublicDir, FIFOName), nil, 0o644)
	if err := Prepare(e.dir); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Lstat(filepath.Join(e.dir, PublicDir, FIFOName)); st.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("not a FIFO again: %v", st.Mode())
	}
}

// Run picks up a file when poked through the FIFO, and when woken.
func TestRunWakeUps(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.s.o.Interval = time.Hour
	if err := Poke(e.dir); err == nil {
		t.Errorf("Poke with nobody listening succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.s.Run(ctx) }()
	waitEmpty := func(how string) {
		t.Helper()
		for i := 0; i < 500; i++ {
			if len(e.maildrop()) == 0 {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("%s: the file was not picked up", how)
	}
	for i, wake := range []func() error{func() error { return Poke(e.dir) }, func() error { e.s.Wake(); return nil }} {
		// Let the first scan pass, so that only the wake-up can find the file.
		time.Sleep(50 * time.Millisecond)
		e.drop(&maildrop.Envelope{Recipients: []cleanup.Recipient{{Address: "b"}}}, "x\n")
		for tries := 0; ; tries++ {
			err := wake()
			if err == nil || tries > 100 {
				if err != nil {
					t.Fatalf("wake %d: %v", i, err)
				}
				break
			}
			time.Sleep(10 * time.Millisecond) // Run has not opened the FIFO yet
		}
		waitEmpty(fmt.Sprintf("wake-up %d", i))
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if ents, _ := e.q.Scan(queue.Incoming); len(ents) != 2 {
		t.Errorf("queued %d messages, want 2", len(ents))
	}
}
