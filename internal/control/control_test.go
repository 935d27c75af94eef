package control

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"mailhorn/internal/cleanup"
	"mailhorn/internal/deliver"
	"mailhorn/internal/qmgr"
	"mailhorn/internal/queue"
)

// writeMessage queues a message as cleanup would, without telling anyone.
func writeMessage(t *testing.T, q *queue.Queue, sender string, rcpts ...queue.Recipient) string {
	t.Helper()
	w, err := q.Create(&queue.Envelope{Arrival: time.Now(), Sender: sender})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w.Content(), "Subject: test\n\nhello\n")
	w.EndContent()
	for _, r := range rcpts {
		w.AddRecipient(r)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return w.ID
}

type toAll struct{}

func (toAll) Resolve(_ context.Context, _, addr string) (qmgr.Resolution, error) {
	_, dom, _ := strings.Cut(addr, "@")
	return qmgr.Resolution{Transport: "test", Nexthop: dom, Recipient: addr}, nil
}

type noSubmit struct{}

func (noSubmit) Submit(context.Context, *cleanup.Message, io.Reader) (string, error) {
	return "", io.ErrUnexpectedEOF
}

// deferAgent defers every recipient and counts the attempts per message.
type deferAgent struct {
	mu    sync.Mutex
	tries map[string]int
}

func (a *deferAgent) Deliver(_ context.Context, req *deliver.Request) []deliver.Result {
	a.mu.Lock()
	a.tries[req.QueueID]++
	a.mu.Unlock()
	var out []deliver.Result
	for _, r := range req.Recipients {
		out = append(out, deliver.Result{Index: r.Index, Status: deliver.Deferred, DSN: "4.4.1", Text: "connect to " + req.Nexthop + ": Connection refused", Relay: "none"})
	}
	return out
}

func (a *deferAgent) count(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tries[id]
}

type running struct {
	q     *queue.Queue
	m     *qmgr.Manager
	agent *deferAgent
	pub   *Client
	priv  *Client
}

// startSystem runs a real queue manager on a fresh queue with both
// control sockets served, as the master does.
func startSystem(t *testing.T) *running {
	t.Helper()
	dir := t.TempDir()
	q, err := queue.Open(dir, queue.NewIDSource(7, nil))
	if err != nil {
		t.Fatal(err)
	}
	a := &deferAgent{tries: map[string]int{}}
	s := qmgr.DefaultSettings("mx.example.test")
	s.ShutdownGrace = time.Second
	m := qmgr.New(qmgr.Options{Queue: q, Agents: map[string]deliver.Agent{"test": a}, Resolver: toAll{}, Submitter: noSubmit{}, Settings: s})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	if err := m.WaitScanned(ctx); err != nil {
		t.Fatal(err)
	}
	h := &QueueHandler{Queue: q, Admin: m}
	var wg sync.WaitGroup
	for _, acc := range []Access{Public, Private} {
		ln, err := Listen(dir, acc)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := (&Server{Access: acc}).Serve(ctx, ln, h); err != nil {
				t.Error(err)
			}
		}()
	}
	r := &running{q: q, m: m, agent: a}
	if r.pub, err = Dial(ctx, PublicPath(dir)); err != nil {
		t.Fatal(err)
	}
	if r.priv, err = Dial(ctx, PrivatePath(dir)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.pub.Close()
		r.priv.Close()
		cancel()
		wg.Wait()
		<-done
	})
	return r
}

func (r *running) idle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.m.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

func (r *running) where(id string) string {
	name, _ := r.q.Locate(id)
	return name
}

func list(t *testing.T, h Handler) []Message {
	t.Helper()
	var out []Message
	if err := h.List(context.Background(), func(m Message) error { out = append(out, m); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSocketModes(t *testing.T) {
	r := startSystem(t)
	for path, want := range map[string]os.FileMode{
		PublicPath(r.q.Dir()): 0o666, filepath.Dir(PublicPath(r.q.Dir())): 0o755,
		PrivatePath(r.q.Dir()): 0o600, filepath.Dir(PrivatePath(r.q.Dir())): 0o700,
	} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s: mode %o, want %o", path, info.Mode().Perm(), want)
		}
	}
}

// TestRunning drives a live queue manager through both sockets: what
// mailq, postqueue and postsuper do while the system runs.
func TestRunning(t *testing.T) {
	r := startSystem(t)
	ctx := context.Background()
	a := writeMessage(t, r.q, "alice@example.org", queue.Recipient{Address: "bob@example.net"}, queue.Recipient{Address: "carol@example.net", Status: queue.StatusDone})
	b := writeMessage(t, r.q, "", queue.Recipient{Address: "dave@example.com"})
	c := writeMessage(t, r.q, "erin@example.org", queue.Recipient{Address: "frank@example.com"})
	for _, id := range []string{a, b, c} {
		r.m.Queued(id)
	}
	r.idle(t)
	for _, id := range []string{a, b, c} {
		if r.where(id) != queue.Deferred || r.agent.count(id) != 1 {
			t.Fatalf("%s: in %q after %d tries, want deferred after 1", id, r.where(id), r.agent.count(id))
		}
	}

	// List through the public socket: pending recipients with reasons.
	msgs := list(t, r.pub)
	if len(msgs) != 3 {
		t.Fatalf("listed %d messages: %+v", len(msgs), msgs)
	}
	m0 := msgs[0]
	if m0.QueueID != a || m0.QueueName != "deferred" || m0.Sender != "alice@example.org" || len(m0.Recipients) != 1 ||
		m0.Recipients[0].Address != "bob@example.net" || m0.Recipients[0].DelayReason != "connect to example.net: Connection refused" {
		t.Errorf("first message: %+v", m0)
	}
	if msgs[1].Sender != "MAILER-DAEMON" {
		t.Errorf("null sender listed as %q", msgs[1].Sender)
	}

	// The public socket refuses administration.
	if _, err := r.pub.Apply(ctx, Action{Op: OpDelete, ID: a}, nil); err == nil || !strings.Contains(err.Error(), "not permitted") {
		t.Errorf("public delete: %v", err)
	}
	if r.where(a) != queue.Deferred {
		t.Fatal("public delete acted")
	}

	// Hold, then list shows it held; hold again counts nothing.
	if n, err := r.priv.Apply(ctx, Action{Op: OpHold, ID: a}, nil); n != 1 || err != nil {
		t.Fatalf("hold: %d %v", n, err)
	}
	if r.where(a) != queue.Hold {
		t.Fatalf("held message in %q", r.where(a))
	}
	if n, _ := r.priv.Apply(ctx, Action{Op: OpHold, ID: a}, nil); n != 0 {
		t.Errorf("second hold counted %d", n)
	}
	if msgs := list(t, r.pub); msgs[len(msgs)-1].QueueID != a || msgs[len(msgs)-1].QueueName != "hold" {
		t.Errorf("after hold: %+v", msgs)
	}
	// Deliver (postqueue -i) does not release a held message.
	if n, _ := r.pub.Apply(ctx, Action{Op: OpDeliver, ID: a}, nil); n != 0 || r.where(a) != queue.Hold {
		t.Errorf("deliver of a held message: %d, in %s", n, r.where(a))
	}

	// Release: the manager schedules it at once.
	if n, err := r.priv.Apply(ctx, Action{Op: OpRelease, ID: a}, nil); n != 1 || err != nil {
		t.Fatalf("release: %d %v", n, err)
	}
	r.idle(t)
	if r.agent.count(a) != 2 || r.where(a) != queue.Deferred {
		t.Errorf("released message: %d tries, in %q", r.agent.count(a), r.where(a))
	}

	// Requeue and deliver: tried again now.
	if n, err := r.priv.Apply(ctx, Action{Op: OpRequeue, ID: b}, nil); n != 1 || err != nil {
		t.Fatalf("requeue: %d %v", n, err)
	}
	if n, err := r.pub.Apply(ctx, Action{Op: OpDeliver, ID: c}, nil); n != 1 || err != nil {
		t.Fatalf("deliver: %d %v", n, err)
	}
	r.idle(t)
	if r.agent.count(b) != 2 || r.agent.count(c) != 2 {
		t.Errorf("after requeue: %d and %d tries", r.agent.count(b), r.agent.count(c))
	}

	// Flush: everything deferred is tried again.
	if err := r.pub.Flush(ctx, "example.com"); err != nil {
		t.Fatal(err)
	}
	r.idle(t)
	if r.agent.count(a) != 3 || r.agent.count(b) != 3 || r.agent.count(c) != 3 {
		t.Errorf("after flush: %d %d %d tries", r.agent.count(a), r.agent.count(b), r.agent.count(c))
	}

	// Delete one, then ALL in deferred with the IDs reported.
	if n, err := r.priv.Apply(ctx, Action{Op: OpDelete, ID: b}, nil); n != 1 || err != nil {
		t.Fatalf("delete: %d %v", n, err)
	}
	if n, _ := r.priv.Apply(ctx, Action{Op: OpDelete, ID: b}, nil); n != 0 {
		t.Errorf("deleting a deleted message counted %d", n)
	}
	if _, err := r.priv.Apply(ctx, Action{Op: OpHold, ID: c}, nil); err != nil {
		t.Fatal(err)
	}
	var ids []string
	n, err := r.priv.Apply(ctx, Action{Op: OpDelete, All: true, Queues: []string{queue.Deferred}}, func(id string) { ids = append(ids, id) })
	if n != 1 || err != nil || len(ids) != 1 || ids[0] != a {
		t.Fatalf("delete ALL deferred: %d %v %v", n, ids, err)
	}
	if r.where(a) != "" || r.where(c) != queue.Hold {
		t.Errorf("after delete ALL deferred: a in %q, c in %q", r.where(a), r.where(c))
	}
	// Requeue ALL releases the held one.
	if n, err := r.priv.Apply(ctx, Action{Op: OpRequeue, All: true}, nil); n != 1 || err != nil {
		t.Fatalf("requeue ALL: %d %v", n, err)
	}
	r.idle(t)
	if r.where(c) != queue.Deferred || r.agent.count(c) != 4 {
		t.Errorf("requeued held message: in %q after %d tries", r.where(c), r.agent.count(c))
	}
}

func TestServerBadRequests(t *testing.T) {
	dir := t.TempDir()
	q, err := queue.Open(dir, queue.NewIDSource(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(dir, Private)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- (&Server{Access: Private}).Serve(ctx, ln, &QueueHandler{Queue: q, Admin: &FileAdmin{Queue: q}})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	c, err := net.Dial("unix", PrivatePath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "not json\n{\"op\":\"list\"}\n{\"op\":\"delete\",\"id\":\"../x\"}\n"+strings.Repeat("x", MaxRequest+10)+"\n")
	out, _ := io.ReadAll(c)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{`{"error":"bad request:`, `{"done":true}`, `{"error":"bad request: invalid queue ID`, `{"error":"request longer than`}
	if len(lines) != len(want) {
		t.Fatalf("replies:\n%s", out)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("reply %d: %s, want %s...", i, lines[i], w)
		}
	}
}

func TestListActiveAndMaildrop(t *testing.T) {
	dir := t.TempDir()
	q, err := queue.Open(dir, queue.NewIDSource(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	a := writeMessage(t, q, "a@example.org", queue.Recipient{Address: "x\x1b[2J@example.net"})
	b := writeMessage(t, q, "b@example.org", queue.Recipient{Address: "odd local@example.net"})
	os.WriteFile(filepath.Join(dir, "maildrop", "dropfile"), []byte("whatever"), 0o644)
	h := &QueueHandler{Queue: q, Admin: &activeAdmin{FileAdmin{Queue: q}, a}}
	msgs := list(t, h)
	if len(msgs) != 3 {
		t.Fatalf("%+v", msgs)
	}
	if msgs[0].QueueName != "maildrop" || msgs[0].QueueID != "dropfile" || msgs[0].SenderUID == nil || msgs[0].MessageSize != 8 {
		t.Errorf("maildrop entry: %+v", msgs[0])
	}
	if msgs[1].QueueID != a || msgs[1].QueueName != "active" || msgs[1].Recipients[0].Address != `"x?[2J"@example.net` {
		t.Errorf("active entry: %+v", msgs[1])
	}
	if msgs[2].QueueID != b || msgs[2].QueueName != "incoming" || msgs[2].Recipients[0].Address != `"odd local"@example.net` {
		t.Errorf("incoming entry: %+v", msgs[2])
	}
	// "-d ALL active" acts on the active message only.
	n, err := h.Apply(context.Background(), Action{Op: OpDelete, All: true, Queues: []string{queue.Active}}, nil)
	if n != 1 || err != nil {
		t.Fatalf("delete ALL active: %d %v", n, err)
	}
	if _, err := q.Locate(a); err == nil {
		t.Error("active message not deleted")
	}
	if _, err := q.Locate(b); err != nil {
		t.Error("incoming message deleted")
	}
}

type activeAdmin struct {
	FileAdmin
	id string
}

func (a *activeAdmin) IsActive(id string) bool { return id == a.id }

// TestFileAdmin: the stopped-system operations on files.
func TestFileAdmin(t *testing.T) {
	dir := t.TempDir()
	q, err := queue.Open(dir, queue.NewIDSource(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	h := &QueueHandler{Queue: q, Admin: &FileAdmin{Queue: q, Now: func() time.Time { return now }}}
	ctx := context.Background()
	a := writeMessage(t, q, "a@example.org", queue.Recipient{Address: "x@example.net"})
	b := writeMessage(t, q, "a@example.org", queue.Recipient{Address: "x@example.net"})
	if err := q.Move(b, queue.Incoming, queue.Deferred); err != nil {
		t.Fatal(err)
	}
	q.SetNextAttempt(queue.Deferred, b, now.Add(time.Hour))
	where := func(id string) string { n, _ := q.Locate(id); return n }

	steps := []struct {
		a     Action
		n     int
		id    string
		where string
	}{
		{Action{Op: OpHold, ID: a}, 1, a, queue.Hold},
		{Action{Op: OpHold, ID: a}, 0, a, queue.Hold},
		{Action{Op: OpRelease, ID: a}, 1, a, queue.Incoming},
		{Action{Op: OpRelease, ID: a}, 0, a, queue.Incoming},
		{Action{Op: OpHold, ID: b, Queues: []string{queue.Incoming}}, 0, b, queue.Deferred},
		{Action{Op: OpRequeue, ID: b}, 1, b, queue.Deferred},
		{Action{Op: OpHold, All: true}, 2, b, queue.Hold},
		{Action{Op: OpRelease, All: true}, 2, b, queue.Incoming},
		{Action{Op: OpDelete, ID: a}, 1, a, ""},
		{Action{Op: OpDelete, All: true, Queues: []string{queue.Hold}}, 0, b, queue.Incoming},
		{Action{Op: OpDelete, All: true}, 1, b, ""},
	}
	for i, s := range steps {
		n, err := h.Apply(ctx, s.a, nil)
		if err != nil || n != s.n || where(s.id) != s.where {
			t.Fatalf("step %d %+v: %d %v, message in %q; want %d in %q", i, s.a, n, err, where(s.id), s.n, s.where)
		}
		if i == 5 {
			ents, _ := q.Scan(queue.Deferred)
			if len(ents) != 1 || ents[0].Mtime.After(now.Add(time.Second)) {
				t.Errorf("requeued file's next attempt: %+v", ents)
			}
		}
	}
}

func TestPurge(t *testing.T) {
	dir := t.TempDir()
	q, err := queue.Open(dir, queue.NewIDSource(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * TempMaxAge)
	complete := writeMessage(t, q, "a@example.org", queue.Recipient{Address: "x@example.net"})
	os.Chtimes(q.Path(queue.Incoming, complete), old, old)

	// An incomplete file as a dead writer leaves it: no end record.
	dead := "0123456789ABD001"
	deadPath := q.Path(queue.Incoming, dead)
	os.WriteFile(deadPath, []byte("MHQ1T\x011"), 0o600)
	os.Chtimes(deadPath, old, old)
	// A recent incomplete file may still be being written.
	young := q.Path(queue.Incoming, "0123456789ABF001")
	os.WriteFile(young, []byte("MHQ1"), 0o600)
	// A corrupt but complete-looking file is kept for the queue manager.
	corrupt := q.Path(queue.Hold, "0123456789ABE001")
	os.WriteFile(corrupt, []byte("XXXXgarbage that is long enough"), 0o600)
	os.Chtimes(corrupt, old, old)
	// Junk with a name that is no queue ID, old and new; a symlink.
	junk := filepath.Join(dir, "deferred", "3", "tmp.12345")
	os.WriteFile(junk, nil, 0o600)
	os.Chtimes(junk, old, old)
	newJunk := filepath.Join(dir, "deferred", "3", "tmp.999")
	os.WriteFile(newJunk, nil, 0o600)
	link := filepath.Join(dir, "hold", "0123456789ABC001")
	os.Symlink("/etc/passwd", link)

	var removed []string
	n, err := Purge(context.Background(), q, time.Now(), func(p string) { removed = append(removed, p) })
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(removed)
	want := []string{filepath.Join("deferred", "3", "tmp.12345"), filepath.Join("hold", "0123456789ABC001"), filepath.Join("incoming", queue.HashDir(dead), dead)}
	sort.Strings(want)
	if n != 3 || strings.Join(removed, " ") != strings.Join(want, " ") {
		t.Errorf("removed %d: %v, want %v", n, removed, want)
	}
	for _, p := range []string{q.Path(queue.Incoming, complete), young, corrupt, newJunk, "/etc/passwd"} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestRepair(t *testing.T) {
	dir := t.TempDir()
	q, err := queue.Open(dir, queue.NewIDSource(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	a := writeMessage(t, q, "a@example.org", queue.Recipient{Address: "x@example.net"})
	b := writeMessage(t, q, "a@example.org", queue.Recipient{Address: "x@example.net"})
	c := writeMessage(t, q, "a@example.org", queue.Recipient{Address: "x@example.net"})
	// a: in the wrong hash directory of deferred; b: at the top of hold;
	// c: in active/ (a Postfix-style layout); a bogus name; a bad mode;
	// a missing hash directory.
	wrong := "0"
	if queue.HashDir(a) == "0" {
		wrong = "1"
	}
	must(t, os.Rename(q.Path(queue.Incoming, a), filepath.Join(dir, "deferred", wrong, a)))
	must(t, os.Rename(q.Path(queue.Incoming, b), filepath.Join(dir, "hold", b)))
	must(t, os.MkdirAll(filepath.Join(dir, "active", "5"), 0o700))
	must(t, os.Rename(q.Path(queue.Incoming, c), filepath.Join(dir, "active", "5", c)))
	must(t, os.WriteFile(filepath.Join(dir, "incoming", "2", "junk"), nil, 0o644))
	must(t, os.Remove(filepath.Join(dir, "incoming", "F")))
	must(t, os.Mkdir(filepath.Join(dir, "incoming", "alien"), 0o700))

	var fixes []string
	moved, err := Repair(context.Background(), q, RepairOptions{UID: -1, GID: -1}, func(f Fix) { fixes = append(fixes, f.String()) })
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(fixes, "\n")
	for _, want := range []string{
		"created directory incoming/F",
		"removed directory incoming/alien",
		"set mode of incoming/2/junk to 0600",
		"bogus file name: incoming/2/junk",
		"renamed file deferred/" + wrong + "/" + a + " as deferred/" + queue.HashDir(a) + "/" + a,
		"renamed file hold/" + b + " as hold/" + queue.HashDir(b) + "/" + b,
		"renamed file active/5/" + c + " as incoming/" + queue.HashDir(c) + "/" + c,
		"removed directory active/5",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in:\n%s", want, text)
		}
	}
	for id, want := range map[string]string{a: queue.Deferred, b: queue.Hold, c: queue.Incoming} {
		if got, err := q.Locate(id); got != want {
			t.Errorf("%s in %q (%v), want %s", id, got, err, want)
		}
	}
	if len(moved) != 2 {
		t.Errorf("moved into scheduled queues: %+v", moved)
	}
	// A second run finds nothing to do.
	fixes = nil
	if _, err := Repair(context.Background(), q, RepairOptions{UID: -1, GID: -1}, func(f Fix) { fixes = append(fixes, f.String()) }); err != nil {
		t.Fatal(err)
	}
	if len(fixes) != 1 || fixes[0] != "bogus file name: incoming/2/junk" {
		t.Errorf("second run: %v", fixes)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
