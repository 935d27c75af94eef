package qmgr

import (
	"bytes"
	"context"
	"io"
	"net/mail"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"mailhorn/internal/cleanup"
	"mailhorn/internal/deliver"
	"mailhorn/internal/maillog"
	"mailhorn/internal/queue"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// resolver sends everything to the "test" transport, next hop = domain;
// local parts starting with "loc" go to "local".
type resolver struct{}

func (resolver) Resolve(_ context.Context, _, addr string) (Resolution, error) {
	_, dom, _ := strings.Cut(addr, "@")
	if strings.HasPrefix(addr, "loc") {
		return Resolution{Transport: "local", Nexthop: dom, Recipient: addr}, nil
	}
	return Resolution{Transport: "test", Nexthop: dom, Recipient: addr}, nil
}

// agent answers per recipient with a rule, records every delivery, and
// counts concurrent calls per destination.
type agent struct {
	mu        sync.Mutex
	rule      func(req *deliver.Request, r deliver.Recipient) deliver.Result
	delivered map[string]int // recipient -> times sent
	contents  map[string][]string
	calls     int
	cur, max  map[string]int
	curAll    int
	maxAll    int
	gate      chan struct{} // if set, each delivery waits for a token
}

func newAgent(rule func(req *deliver.Request, r deliver.Recipient) deliver.Result) *agent {
	return &agent{rule: rule, delivered: map[string]int{}, contents: map[string][]string{}, cur: map[string]int{}, max: map[string]int{}}
}

func sent(*deliver.Request, deliver.Recipient) deliver.Result {
	return deliver.Result{Status: deliver.Sent, DSN: "2.0.0", Text: "delivered"}
}

func (a *agent) Deliver(ctx context.Context, req *deliver.Request) []deliver.Result {
	a.mu.Lock()
	a.calls++
	a.cur[req.Nexthop]++
	a.curAll++
	a.max[req.Nexthop] = max(a.max[req.Nexthop], a.cur[req.Nexthop])
	a.maxAll = max(a.maxAll, a.curAll)
	a.mu.Unlock()
	if a.gate != nil {
		<-a.gate
	}
	f, body, err := req.OpenContent()
	var content []byte
	if err == nil {
		content, _ = io.ReadAll(body)
		f.Close()
	}
	var res []deliver.Result
	a.mu.Lock()
	for _, r := range req.Recipients {
		x := a.rule(req, r)
		x.Index = r.Index
		if x.Status == deliver.Sent {
			a.delivered[r.Address]++
			a.contents[r.Address] = append(a.contents[r.Address], string(content))
		}
		res = append(res, x)
	}
	a.cur[req.Nexthop]--
	a.curAll--
	a.mu.Unlock()
	return res
}

func (a *agent) count(addr string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.delivered[addr]
}

func (a *agent) content(addr string, i int) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i >= len(a.contents[addr]) {
		return ""
	}
	return a.contents[addr][i]
}

// submitter is a minimal cleanup: it queues the message as given and tells
// the manager.
type submitter struct {
	q *queue.Queue
	m *Manager
	c *clock
}

func (s *submitter) Submit(_ context.Context, cm *cleanup.Message, content io.Reader) (string, error) {
	env := &queue.Envelope{Arrival: s.c.now(), Sender: cm.Sender, Attrs: cm.Attrs}
	w, err := s.q.Create(env)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(w.Content(), content); err != nil {
		w.Abort()
		return "", err
	}
	w.EndContent()
	for _, r := range cm.Recipients {
		w.AddRecipient(queue.Recipient{Address: r.Address, Notify: r.Notify})
	}
	if err := w.Commit(); err != nil {
		return "", err
	}
	s.m.Queued(w.ID)
	return w.ID, nil
}

type harness struct {
	t      *testing.T
	q      *queue.Queue
	m      *Manager
	agent  *agent
	local  *agent
	clock  *clock
	log    *bytes.Buffer
	logMu  *sync.Mutex
	cancel context.CancelFunc
	done   chan error
	sub    *submitter
}

type lockedBuf struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func newHarness(t *testing.T, dir string, a *agent, mod func(*Settings)) *harness {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	q, err := queue.Open(dir, queue.NewIDSource(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2025, 11, 28, 10, 0, 0, 0, time.UTC)}
	h := &harness{t: t, q: q, agent: a, local: newAgent(sent), clock: c, log: &bytes.Buffer{}, logMu: &sync.Mutex{}}
	s := DefaultSettings("mx.example.test")
	s.ShutdownGrace = time.Second
	if mod != nil {
		mod(&s)
	}
	lg := maillog.New(lockedBuf{h.logMu, h.log}, "mailhorn", "mx").WithClock(c.now)
	h.sub = &submitter{q: q, c: c}
	h.m = New(Options{
		Queue: q, Agents: map[string]deliver.Agent{"test": a, "local": h.local},
		Resolver: resolver{}, Submitter: h.sub, Log: lg.Service("qmgr"), Settings: s, Now: c.now,
	})
	h.sub.m = h.m
	return h
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.m.Run(ctx) }()
	h.t.Cleanup(h.stop)
	// As the master does: no new file before the start-up scan has listed
	// the queue.
	if err := h.m.WaitScanned(ctx); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Error(err)
	}
	h.cancel = nil
}

func (h *harness) idle() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.m.WaitIdle(ctx); err != nil {
		h.t.Fatalf("manager never idle: %v\nlog:\n%s", err, h.logText())
	}
}

// scan does what the queue_run_delay timer does, synchronously, and waits
// for the deliveries it started.
func (h *harness) scan() {
	h.t.Helper()
	if err := h.m.scan(queue.Deferred, true); err != nil {
		h.t.Fatal(err)
	}
	h.idle()
}

func (h *harness) logText() string {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	return h.log.String()
}

// write queues a message directly (as cleanup would) without telling the
// manager.
func (h *harness) write(sender string, rcpts []queue.Recipient, attrs ...queue.Attr) string {
	h.t.Helper()
	w, err := h.q.Create(&queue.Envelope{Arrival: h.clock.now(), Sender: sender, Attrs: attrs})
	if err != nil {
		h.t.Fatal(err)
	}
	io.WriteString(w.Content(), "Subject: test\nMessage-Id: <m@example.test>\n\nhello\n")
	w.EndContent()
	for _, r := range rcpts {
		w.AddRecipient(r)
	}
	if err := w.Commit(); err != nil {
		h.t.Fatal(err)
	}
	return w.ID
}

func (h *harness) submit(sender string, rcpts ...string) string {
	var rs []queue.Recipient
	for _, r := range rcpts {
		rs = append(rs, queue.Recipient{Address: r})
	}
	id := h.write(sender, rs)
	h.m.Queued(id)
	return id
}

func (h *harness) where(id string) string {
	name, err := h.q.Locate(id)
	if err != nil {
		return ""
	}
	return name
}

func (h *harness) files(name string) int {
	ents, err := h.q.Scan(name)
	if err != nil {
		h.t.Fatal(err)
	}
	return len(ents)
}

// parseReport parses a notification as delivered to addr.
func parseReport(t *testing.T, raw string) (*mail.Message, string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("report does not parse: %v\n%s", err, raw)
	}
	body, _ := io.ReadAll(msg.Body)
	return msg, string(body)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
