package qmgr

import (
	"os"
	"strings"
	"testing"
	"time"

	"mailhorn/internal/deliver"
	"mailhorn/internal/queue"
)

func TestSentAndRemoved(t *testing.T) {
	h := newHarness(t, "", newAgent(sent), nil)
	h.start()
	id := h.submit("alice@example.test", "bob@example.test", "carol@other.test")
	h.idle()
	if h.agent.count("bob@example.test") != 1 || h.agent.count("carol@other.test") != 1 {
		t.Errorf("deliveries %v", h.agent.delivered)
	}
	if w := h.where(id); w != "" {
		t.Errorf("file still in %s", w)
	}
	log := h.logText()
	for _, want := range []string{
		id + ": from=<alice@example.test>, size=50, nrcpt=2 (queue active)",
		id + ": to=<bob@example.test>, relay=test, delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (delivered)",
		id + ": removed",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestBounceReturnsDSN(t *testing.T) {
	a := newAgent(func(_ *deliver.Request, r deliver.Recipient) deliver.Result {
		if r.Address == "bob@example.test" {
			return deliver.Result{Status: deliver.Bounced, DSN: "5.1.1", Text: "unknown user: bob@example.test"}
		}
		return deliver.Result{Status: deliver.Sent, DSN: "2.0.0", Text: "ok"}
	})
	h := newHarness(t, "", a, nil)
	h.start()
	id := h.write("alice@example.test", []queue.Recipient{
		{Address: "bob@example.test", Original: "robert@example.test"},
		{Address: "carol@example.test"},
		{Address: "dave@example.test", Notify: queue.NotifyNever},
	}, queue.Attr{Name: queue.AttrEnvID, Value: "E1"})
	h.m.Queued(id)
	h.idle()
	if h.where(id) != "" {
		t.Errorf("bounced message not removed")
	}
	if n := a.count("alice@example.test"); n != 1 {
		t.Fatalf("sender got %d notices, want 1\n%s", n, h.logText())
	}
	msg, body := parseReport(t, a.content("alice@example.test", 0))
	if msg.Header.Get("Subject") != "Undelivered Mail Returned to Sender" {
		t.Errorf("subject %q", msg.Header.Get("Subject"))
	}
	for _, want := range []string{
		"<bob@example.test> (expanded from <robert@example.test>): unknown user: bob@example.test",
		"X-Mailhorn-Queue-ID: " + id,
		"Original-Envelope-Id: E1",
		"Final-Recipient: rfc822; bob@example.test\nOriginal-Recipient: rfc822; robert@example.test\nAction: failed\nStatus: 5.1.1",
		"Subject: test\nMessage-Id: <m@example.test>\n\nhello\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("report lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "dave@") {
		t.Errorf("NOTIFY=NEVER recipient reported")
	}
	if !strings.Contains(h.logText(), id+": sender non-delivery notification: ") {
		t.Errorf("no notification log line:\n%s", h.logText())
	}
}

func TestDoubleBounce(t *testing.T) {
	// Everything bounces except mail to the postmaster.
	a := newAgent(func(_ *deliver.Request, r deliver.Recipient) deliver.Result {
		if r.Address == "postmaster" {
			return deliver.Result{Status: deliver.Sent, DSN: "2.0.0"}
		}
		return deliver.Result{Status: deliver.Bounced, DSN: "5.1.1", Text: "unknown user"}
	})
	h := newHarness(t, "", a, nil)
	h.start()
	h.submit("", "bob@example.test") // a bounce that cannot be delivered
	h.idle()
	if a.count("postmaster") != 1 {
		t.Fatalf("postmaster got %d copies\n%s", a.count("postmaster"), h.logText())
	}
	msg, _ := parseReport(t, a.content("postmaster", 0))
	if got := msg.Header.Get("Subject"); got != "Postmaster Copy: Undelivered Mail" {
		t.Errorf("subject %q", got)
	}
	// The postmaster copy itself failing is dropped, not bounced again.
	a.rule = func(*deliver.Request, deliver.Recipient) deliver.Result {
		return deliver.Result{Status: deliver.Bounced, DSN: "5.1.1", Text: "unknown user"}
	}
	h.submit("", "bob@example.test")
	h.idle()
	if !strings.Contains(h.logText(), "undeliverable postmaster notification discarded") {
		t.Errorf("double bounce not discarded:\n%s", h.logText())
	}
	if n := h.files(queue.Incoming) + h.files(queue.Deferred); n != 0 {
		t.Errorf("%d files left in the queue", n)
	}
}

func TestBounceAttribute(t *testing.T) {
	h := newHarness(t, "", newAgent(sent), nil)
	h.start()
	id := h.write("alice@example.test", []queue.Recipient{{Address: "bob@example.test"}}, queue.Attr{Name: BounceAttr, Value: "5.4.6 Too many hops"})
	h.m.Queued(id)
	h.idle()
	if h.agent.count("bob@example.test") != 0 {
		t.Errorf("looping message was delivered")
	}
	if h.agent.count("alice@example.test") != 1 {
		t.Fatalf("no notice to the sender\n%s", h.logText())
	}
	if _, body := parseReport(t, h.agent.content("alice@example.test", 0)); !strings.Contains(body, "Status: 5.4.6") || !strings.Contains(body, "<bob@example.test>: Too many hops") {
		t.Errorf("report:\n%s", body)
	}
	if !strings.Contains(h.logText(), "dsn=5.4.6, status=bounced (Too many hops)") {
		t.Errorf("log:\n%s", h.logText())
	}
}

func TestDeferBackoffAndExpiry(t *testing.T) {
	a := newAgent(func(_ *deliver.Request, r deliver.Recipient) deliver.Result {
		if r.Address == "alice@example.test" {
			return deliver.Result{Status: deliver.Sent, DSN: "2.0.0"}
		}
		return deliver.Result{Status: deliver.Deferred, DSN: "4.4.1", Text: "connect to mx.slow.test[192.0.2.9]:25: Connection timed out", Relay: "none"}
	})
	h := newHarness(t, "", a, func(s *Settings) { s.MaxLifetime = 3 * time.Hour })
	h.start()
	arrival := h.clock.now()
	id := h.submit("alice@example.test", "bob@slow.test")
	h.idle()
	if h.where(id) != queue.Deferred {
		t.Fatalf("message in %q, want deferred\n%s", h.where(id), h.logText())
	}
	f, err := h.q.Read(queue.Deferred, id)
	if err != nil {
		t.Fatal(err)
	}
	if d := f.Defers[0]; d.DSN != "4.4.1" || !strings.Contains(d.Text, "timed out") {
		t.Errorf("deferral not recorded: %+v", f.Defers)
	}
	// Backoff doubles from minimal_backoff_time up to maximal_backoff_time.
	next := arrival
	for i, want := range []time.Duration{300 * time.Second, 600 * time.Second, 1200 * time.Second, 2400 * time.Second, 4000 * time.Second} {
		ents, _ := h.q.Scan(queue.Deferred)
		if len(ents) != 1 || !ents[0].Mtime.Equal(next.Add(want)) {
			t.Fatalf("attempt %d: next attempt %v, want %v", i, ents, next.Add(want))
		}
		// Not due yet: a scan does nothing.
		calls := a.calls
		h.scan()
		h.clock.add(want)
		next = h.clock.now()
		if a.calls != calls {
			t.Fatalf("attempt %d: delivered before due", i)
		}
		h.scan()
		if a.calls != calls+1 {
			t.Fatalf("attempt %d: not delivered when due", i)
		}
	}
	// Past maximal_queue_lifetime: returned with the last reason, no
	// further attempt.
	calls := a.calls
	h.clock.add(4000 * time.Second)
	h.scan()
	if a.calls != calls+1 { // the notice to alice only
		t.Errorf("calls %d, want %d", a.calls, calls+1)
	}
	_, body := parseReport(t, a.content("alice@example.test", 0))
	if !strings.Contains(body, "<bob@slow.test>: connect to mx.slow.test[192.0.2.9]:25: Connection timed out") || !strings.Contains(body, "Status: 4.4.1") {
		t.Errorf("expiry report:\n%s", body)
	}
	if !strings.Contains(h.logText(), id+": from=<alice@example.test>, status=expired, returned to sender") {
		t.Errorf("log:\n%s", h.logText())
	}
}

// waitCalls waits until the agent was called n times (a Kick is
// asynchronous; WaitIdle alone could return before the scan).
func waitCalls(t *testing.T, h *harness, a *agent, n int) {
	t.Helper()
	for i := 0; i < 10000; i++ {
		a.mu.Lock()
		c := a.calls
		a.mu.Unlock()
		if c >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("agent never called %d times\n%s", n, h.logText())
}

func TestDelayWarning(t *testing.T) {
	a := newAgent(func(_ *deliver.Request, r deliver.Recipient) deliver.Result {
		if r.Address == "alice@example.test" {
			return deliver.Result{Status: deliver.Sent, DSN: "2.0.0"}
		}
		return deliver.Result{Status: deliver.Deferred, DSN: "4.2.0", Text: "mailbox busy"}
	})
	h := newHarness(t, "", a, func(s *Settings) { s.DelayWarning = 4 * time.Hour; s.MaxBackoff = time.Hour })
	h.start()
	id := h.submit("alice@example.test", "bob@slow.test")
	h.idle()
	for i := 0; i < 8; i++ { // 8 hours of retries: one warning only
		calls := a.calls
		h.clock.add(time.Hour)
		h.scan()
		if a.calls < calls+1 {
			t.Fatalf("hour %d: no attempt", i)
		}
	}
	if n := a.count("alice@example.test"); n != 1 {
		t.Fatalf("%d delay warnings, want 1\n%s", n, h.logText())
	}
	msg, body := parseReport(t, a.content("alice@example.test", 0))
	if msg.Header.Get("Subject") != "Delayed Mail (still being retried)" || !strings.Contains(body, "Action: delayed") || !strings.Contains(body, "Will-Retry-Until: ") {
		t.Errorf("warning:\n%s", body)
	}
	if !strings.Contains(h.logText(), id+": sender delay notification: ") {
		t.Errorf("log:\n%s", h.logText())
	}
}

func TestHoldRelease(t *testing.T) {
	h := newHarness(t, "", newAgent(sent), nil)
	id := h.write("alice@example.test", []queue.Recipient{{Address: "bob@example.test"}})
	if err := h.m.Hold(id); err != nil {
		t.Fatal(err)
	}
	h.start()
	h.idle()
	h.m.Flush()
	h.idle()
	if h.agent.count("bob@example.test") != 0 || h.where(id) != queue.Hold {
		t.Fatalf("held message delivered or moved: %q", h.where(id))
	}
	if err := h.m.Release(id); err != nil {
		t.Fatal(err)
	}
	h.idle()
	if h.agent.count("bob@example.test") != 1 || h.where(id) != "" {
		t.Errorf("released message not delivered")
	}
	if err := h.m.Release(id); err == nil {
		t.Errorf("release of a gone message succeeded")
	}
}

func TestDeleteAndRequeue(t *testing.T) {
	a := newAgent(func(*deliver.Request, deliver.Recipient) deliver.Result {
		return deliver.Result{Status: deliver.Deferred, DSN: "4.0.0", Text: "later"}
	})
	h := newHarness(t, "", a, nil)
	h.start()
	id1 := h.submit("alice@example.test", "bob@example.test")
	id2 := h.submit("alice@example.test", "carol@example.test")
	h.idle()
	calls := a.calls
	if err := h.m.Requeue(id1); err != nil {
		t.Fatal(err)
	}
	waitCalls(t, h, a, calls+1)
	h.idle()
	if err := h.m.Delete(id2); err != nil {
		t.Fatal(err)
	}
	if h.where(id2) != "" || h.where(id1) != queue.Deferred {
		t.Errorf("after delete: %q %q", h.where(id1), h.where(id2))
	}
}

// A queue left by a crash: one message half delivered, one deferred and
// due, one held, one incomplete, one corrupt. A fresh manager delivers each
// pending recipient exactly once and nothing twice.
func TestRestartAfterCrash(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, dir, newAgent(sent), nil)
	half := h.write("alice@example.test", []queue.Recipient{{Address: "done@example.test"}, {Address: "todo@example.test"}})
	f, _ := h.q.Read(queue.Incoming, half)
	if _, err := h.q.Update(queue.Incoming, half, f.Recipients[:1], 0, nil); err != nil {
		t.Fatal(err)
	}
	def := h.write("alice@example.test", []queue.Recipient{{Address: "later@example.test"}})
	h.q.Move(def, queue.Incoming, queue.Deferred)
	h.q.SetNextAttempt(queue.Deferred, def, h.clock.now().Add(-time.Minute))
	held := h.write("alice@example.test", []queue.Recipient{{Address: "held@example.test"}})
	h.q.Move(held, queue.Incoming, queue.Hold)
	alldone := h.write("alice@example.test", []queue.Recipient{{Address: "gone@example.test"}})
	f, _ = h.q.Read(queue.Incoming, alldone)
	h.q.Update(queue.Incoming, alldone, f.Recipients, 0, nil)
	incomplete := h.write("alice@example.test", []queue.Recipient{{Address: "x@example.test"}})
	truncate(t, h.q.Path(queue.Incoming, incomplete), 30)
	corrupt := h.write("alice@example.test", []queue.Recipient{{Address: "y@example.test"}})
	overwrite(t, h.q.Path(queue.Incoming, corrupt), 0, "XXXX")
	// Both broken files are from before the crash, not being written now.
	old := time.Now().Add(-time.Hour)
	os.Chtimes(h.q.Path(queue.Incoming, incomplete), old, old)
	os.Chtimes(h.q.Path(queue.Incoming, corrupt), old, old)

	h.start()
	h.idle()
	for addr, want := range map[string]int{"done@example.test": 0, "todo@example.test": 1, "later@example.test": 1, "held@example.test": 0, "gone@example.test": 0, "x@example.test": 0, "y@example.test": 0} {
		if got := h.agent.count(addr); got != want {
			t.Errorf("%s delivered %d times, want %d", addr, got, want)
		}
	}
	if h.where(held) != queue.Hold || h.where(half) != "" || h.where(def) != "" || h.where(incomplete) != "" || h.where(alldone) != "" {
		t.Errorf("files left in the wrong place\n%s", h.logText())
	}
	if !fileExists(dir + "/corrupt/" + corrupt) {
		t.Errorf("corrupt file not in corrupt/")
	}
	log := h.logText()
	for _, want := range []string{"warning: " + incomplete + ": removing incomplete queue file", "warning: " + corrupt + ": moving corrupt queue file"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// A shutdown while deliveries run marks nothing it did not deliver; the
// next manager delivers the rest.
func TestShutdownResumes(t *testing.T) {
	dir := t.TempDir()
	a := newAgent(sent)
	a.gate = make(chan struct{})
	h := newHarness(t, dir, a, nil)
	h.start()
	id := h.submit("alice@example.test", "bob@example.test")
	waitCalls(t, h, a, 1)
	go func() { // the agent finishes after shutdown began: its result counts
		time.Sleep(time.Millisecond)
		close(a.gate)
	}()
	h.stop()
	if h.where(id) != "" {
		// Delivered during the grace period: must be marked, not resent.
		h2 := newHarness(t, dir, newAgent(sent), nil)
		h2.start()
		h2.idle()
		if h2.agent.count("bob@example.test") != 0 {
			t.Errorf("delivered twice")
		}
	}
	if a.count("bob@example.test") != 1 {
		t.Errorf("delivered %d times", a.count("bob@example.test"))
	}
}

func TestConcurrencyLimits(t *testing.T) {
	a := newAgent(sent)
	h := newHarness(t, "", a, func(s *Settings) {
		s.Transports["test"] = Limits{Processes: 6, DestConcurrent: 2, RecipientLimit: 3}
	})
	a.gate = make(chan struct{})
	h.start()
	var ids []string
	for i := 0; i < 40; i++ {
		dom := []string{"a.test", "b.test", "c.test", "d.test"}[i%4]
		ids = append(ids, h.submit("alice@example.test", "u1@"+dom, "u2@"+dom, "u3@"+dom, "u4@"+dom))
	}
	go func() {
		for i := 0; i < 80; i++ { // 40 messages x 2 requests (4 recipients, limit 3)
			a.gate <- struct{}{}
		}
	}()
	h.idle()
	if a.calls != 80 {
		t.Errorf("%d requests, want 80 (recipient limit 3)", a.calls)
	}
	for dom, n := range a.max {
		if n > 2 {
			t.Errorf("%s: %d concurrent deliveries, limit 2", dom, n)
		}
	}
	if a.maxAll > 6 {
		t.Errorf("%d concurrent deliveries, process limit 6", a.maxAll)
	}
	for _, dom := range []string{"a.test", "b.test"} {
		for _, u := range []string{"u1@", "u2@", "u3@", "u4@"} {
			if n := a.count(u + dom); n != 10 {
				t.Errorf("%s%s: %d deliveries, want 10", u, dom, n)
			}
		}
	}
	if n := h.files(queue.Incoming); n != 0 {
		t.Errorf("%d files left", n)
	}
}

// local delivers one recipient per request, two at a time per recipient.
func TestLocalPerRecipient(t *testing.T) {
	h := newHarness(t, "", newAgent(sent), nil)
	h.local.gate = make(chan struct{})
	h.start()
	for i := 0; i < 10; i++ {
		h.submit("alice@example.test", "loc1@example.test", "loc2@example.test")
	}
	go func() {
		for i := 0; i < 20; i++ {
			h.local.gate <- struct{}{}
		}
	}()
	h.idle()
	if h.local.calls != 20 || h.local.count("loc1@example.test") != 10 {
		t.Errorf("calls %d, deliveries %v", h.local.calls, h.local.delivered)
	}
}
