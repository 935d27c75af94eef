package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"mailhorn/internal/cleanup"
	"mailhorn/internal/control"
	"mailhorn/internal/deliver"
	"mailhorn/internal/master"
	"mailhorn/internal/qmgr"
	"mailhorn/internal/queue"
)

// queueSetup is a configuration directory whose queue_directory is a
// fresh queue.
func queueSetup(t *testing.T) (confDir string, q *queue.Queue) {
	t.Helper()
	base := t.TempDir()
	qdir := filepath.Join(base, "q")
	q, err := queue.Open(qdir, queue.NewIDSource(3, nil))
	if err != nil {
		t.Fatal(err)
	}
	confDir = filepath.Join(base, "etc")
	os.Mkdir(confDir, 0o755)
	writeFile(t, confDir, "main.cf", "queue_directory = "+qdir+"\nmaillog_file = "+filepath.Join(base, "maillog")+"\nmail_owner = root\n")
	return confDir, q
}

var testArrival = time.Date(2025, 11, 28, 15, 21, 58, 0, time.Local)

func queueMsg(t *testing.T, q *queue.Queue, sender string, content string, rcpts ...queue.Recipient) string {
	t.Helper()
	return queueMsgAt(t, q, testArrival, sender, content, rcpts...)
}

func queueMsgAt(t *testing.T, q *queue.Queue, arrival time.Time, sender string, content string, rcpts ...queue.Recipient) string {
	t.Helper()
	w, err := q.Create(&queue.Envelope{Arrival: arrival, Sender: sender,
		Attrs: []queue.Attr{{Name: "client_name", Value: "localhost"}}})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w.Content(), content)
	w.EndContent()
	for _, r := range rcpts {
		w.AddRecipient(r)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return w.ID
}

// deferIt appends a deferral for recipient i, as the queue manager does.
func deferIt(t *testing.T, q *queue.Queue, name, id string, reasons map[int]string) {
	t.Helper()
	f, err := q.Read(name, id)
	if err != nil {
		t.Fatal(err)
	}
	var app queue.Appender
	for i, text := range reasons {
		app.Defer(queue.Defer{Index: i, Time: time.Now(), DSN: "4.4.1", Relay: "none", Text: text})
	}
	app.Retry(time.Now(), 300*time.Second)
	if _, err := q.Update(name, id, nil, f.End, &app); err != nil {
		t.Fatal(err)
	}
}

// Postfix's postqueue -p layout for long queue IDs (showq_compat.c).
var (
	mailqHeading = regexp.MustCompile(`^----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------$`)
	mailqSender  = regexp.MustCompile(`^([0-9A-F]{16})([*!]?) +(\d+) (\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d) (.*)$`)
	mailqRcpt    = regexp.MustCompile(`^ {47}(\S.*)$`)
	mailqReason  = regexp.MustCompile(`^ *\((.*)\)$`)
	mailqTotal   = regexp.MustCompile(`^-- \d+ Kbytes in \d+ Requests?\.$`)
)

func TestMailqStopped(t *testing.T) {
	conf, q := queueSetup(t)
	out, errOut, code := runCommand(t, runMailq, "", "-c", conf)
	if code != 0 || out != "Mail queue is empty\n" {
		t.Fatalf("empty queue: %d %q %q", code, out, errOut)
	}
	body := "Subject: hi\n\n" + strings.Repeat("x", 3000) + "\n"
	a := queueMsg(t, q, "alice@example.org", body,
		queue.Recipient{Address: "bob@example.net"}, queue.Recipient{Address: "done@example.net", Status: queue.StatusDone},
		queue.Recipient{Address: "carol@example.net"}, queue.Recipient{Address: "dave@example.com"})
	if err := q.Move(a, queue.Incoming, queue.Deferred); err != nil {
		t.Fatal(err)
	}
	deferIt(t, q, queue.Deferred, a, map[int]string{0: "connect to example.net: Connection refused", 2: "connect to example.net: Connection refused"})
	b := queueMsg(t, q, "", "Subject: bounce\n\nx\n", queue.Recipient{Address: "odd user@example.com"})
	if err := q.Move(b, queue.Incoming, queue.Hold); err != nil {
		t.Fatal(err)
	}

	out, errOut, code = runCommand(t, runQueue, "", "-c", conf, "-p")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "Mail system is down -- accessing queue directly") {
		t.Errorf("stderr: %q", errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := []*regexp.Regexp{mailqHeading, mailqSender, mailqReason, mailqRcpt, mailqRcpt, mailqReason, mailqRcpt, regexp.MustCompile(`^$`),
		mailqSender, mailqRcpt, regexp.MustCompile(`^$`), mailqTotal}
	if len(lines) != len(want) {
		t.Fatalf("output has %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d %q does not match %s", i, lines[i], re)
		}
	}
	wantText := []struct {
		line int
		s    string
	}{
		{1, a + "      3014 Fri Nov 28 15:21:58 alice@example.org"},
		{2, strings.Repeat(" ", 76-len("connect to example.net: Connection refused")) + "(connect to example.net: Connection refused)"},
		{3, strings.Repeat(" ", 47) + "bob@example.net"},
		{4, strings.Repeat(" ", 47) + "carol@example.net"},
		{5, strings.Repeat(" ", 76-len("reason unavailable")) + "(reason unavailable)"},
		{6, strings.Repeat(" ", 47) + "dave@example.com"},
		{8, b + "!       19 Fri Nov 28 15:21:58 MAILER-DAEMON"},
		{9, strings.Repeat(" ", 47) + `"odd user"@example.com`},
		{11, "-- 2 Kbytes in 2 Requests."},
	}
	for _, w := range wantText {
		if lines[w.line] != w.s {
			t.Errorf("line %d:\n got %q\nwant %q", w.line, lines[w.line], w.s)
		}
	}

	// -j: one JSON object per line, postqueue -j's members.
	out, _, code = runCommand(t, runQueue, "", "-c", conf, "-j")
	if code != 0 {
		t.Fatal(code)
	}
	var msgs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		msgs = append(msgs, m)
	}
	if len(msgs) != 2 {
		t.Fatalf("%d objects", len(msgs))
	}
	m := msgs[0]
	for _, k := range []string{"queue_name", "queue_id", "arrival_time", "message_size", "forced_expire", "sender", "recipients"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %s in %v", k, m)
		}
	}
	rc := m["recipients"].([]any)
	if m["queue_name"] != "deferred" || m["queue_id"] != a || len(rc) != 3 || m["arrival_time"].(float64) != float64(time.Date(2025, 11, 28, 15, 21, 58, 0, time.Local).Unix()) {
		t.Errorf("first object: %v", m)
	}
	if r0 := rc[0].(map[string]any); r0["address"] != "bob@example.net" || r0["delay_reason"] != "connect to example.net: Connection refused" {
		t.Errorf("first recipient: %v", r0)
	}
	if _, ok := rc[2].(map[string]any)["delay_reason"]; ok {
		t.Errorf("recipient without reason has one: %v", rc[2])
	}
	if msgs[1]["queue_name"] != "hold" || msgs[1]["sender"] != "MAILER-DAEMON" {
		t.Errorf("second object: %v", msgs[1])
	}

	// Flushing needs the daemon.
	_, errOut, code = runCommand(t, runQueue, "", "-c", conf, "-f")
	if code != exUnavailable || !strings.Contains(errOut, "mail system is down") {
		t.Errorf("-f while down: %d %q", code, errOut)
	}
	for _, args := range [][]string{{"-p", "-j"}, {}, {"-i", "../etc"}, {"-s", "a b"}, {"-p", "extra"}} {
		if _, _, code := runCommand(t, runQueue, "", append([]string{"-c", conf}, args...)...); code != exUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exUsage)
		}
	}
}

// live is a running system as far as the tools can tell: the pid lock
// held, a real queue manager behind both control sockets.
type live struct {
	q     *queue.Queue
	m     *qmgr.Manager
	tries func(id string) int
}

type testResolver struct{}

func (testResolver) Resolve(_ context.Context, _, addr string) (qmgr.Resolution, error) {
	return qmgr.Resolution{Transport: "test", Nexthop: "example.net", Recipient: addr}, nil
}

type noSubmitter struct{}

func (noSubmitter) Submit(context.Context, *cleanup.Message, io.Reader) (string, error) {
	return "", io.ErrUnexpectedEOF
}

func startLive(t *testing.T, q *queue.Queue) *live {
	t.Helper()
	pid, err := master.LockPID(master.PIDPath(q.Dir()))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	tries := map[string]int{}
	agent := deliver.AgentFunc(func(_ context.Context, req *deliver.Request) []deliver.Result {
		mu.Lock()
		tries[req.QueueID]++
		mu.Unlock()
		var out []deliver.Result
		for _, r := range req.Recipients {
			out = append(out, deliver.Result{Index: r.Index, Status: deliver.Deferred, DSN: "4.4.1", Text: "connect to example.net: Connection refused", Relay: "none"})
		}
		return out
	})
	s := qmgr.DefaultSettings("mx.example.test")
	s.ShutdownGrace = time.Second
	m := qmgr.New(qmgr.Options{Queue: q, Agents: map[string]deliver.Agent{"test": agent}, Resolver: testResolver{}, Submitter: noSubmitter{}, Settings: s})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	if err := m.WaitScanned(ctx); err != nil {
		t.Fatal(err)
	}
	h := &control.QueueHandler{Queue: q, Admin: m}
	var wg sync.WaitGroup
	for _, acc := range []control.Access{control.Public, control.Private} {
		ln, err := control.Listen(q.Dir(), acc)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			(&control.Server{Access: acc}).Serve(ctx, ln, h)
		}()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		<-done
		pid.Release()
	})
	return &live{q: q, m: m, tries: func(id string) int { mu.Lock(); defer mu.Unlock(); return tries[id] }}
}

func (l *live) idle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := l.m.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestQueueRunning(t *testing.T) {
	conf, q := queueSetup(t)
	l := startLive(t, q)
	a := queueMsgAt(t, q, time.Now(), "alice@example.org", "Subject: x\n\nbody\n", queue.Recipient{Address: "bob@example.net"})
	l.m.Queued(a)
	l.idle(t)
	if l.tries(a) != 1 {
		t.Fatalf("%d tries", l.tries(a))
	}
	out, errOut, code := runCommand(t, runMailq, "", "-c", conf)
	if code != 0 || errOut != "" || !strings.Contains(out, "(connect to example.net: Connection refused)") || !strings.Contains(out, "-- 0 Kbytes in 1 Request.") {
		t.Fatalf("mailq: %d %q\n%s", code, errOut, out)
	}
	for i, args := range [][]string{{"-f"}, {"-i", a}, {"-s", "example.net"}} {
		if _, errOut, code := runCommand(t, runQueue, "", append([]string{"-c", conf}, args...)...); code != 0 {
			t.Fatalf("%v: %d %s", args, code, errOut)
		}
		l.idle(t)
		if l.tries(a) != i+2 {
			t.Errorf("after %v: %d tries", args, l.tries(a))
		}
	}
	_, errOut, _ = runCommand(t, runQueue, "", "-c", conf, "-i", "0123456789ABC001")
	if !strings.Contains(errOut, "no such message") {
		t.Errorf("-i unknown: %q", errOut)
	}
}
