package qmgr

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"time"

	"mailhorn/internal/deliver"
	"mailhorn/internal/queue"
)

// message is an active message: read, resolved, being delivered.
type message struct {
	id       string
	queue    string // where its file is: incoming or deferred
	f        *queue.File
	activeAt time.Time
	jobs     []*job // built by activate, handed to the scheduler by start
	jobsLeft int
	expired  bool

	// Outcomes, guarded by Manager.mu while deliveries run.
	sent     []outcome
	bounced  []outcome
	deferred []outcome
	hold     bool // the administrator asked: move to hold/ when done
	del      bool // the administrator asked: remove when done
}

// outcome is one recipient's result.
type outcome struct {
	idx       int // in f.Recipients
	res       deliver.Result
	at        time.Time
	transport string // "" for outcomes decided by the queue manager itself
}

// job is one delivery request for one transport and destination.
type job struct {
	msg       *message
	transport string
	destKey   string
	req       *deliver.Request
}

// BounceAttr is the queue file attribute with which cleanup asks that every
// recipient be returned without a delivery attempt, e.g. "5.4.6 Too many
// hops" for a mail loop.
const BounceAttr = "bounce"

// activate reads a message and prepares its deliveries. It returns nil when
// there is nothing to deliver (file gone, broken, or already finished).
func (m *Manager) activate(ctx context.Context, p pending) *message {
	// A file that does not parse is never one being written: the start-up
	// scan lists incoming/ before the master accepts mail (WaitScanned),
	// and the pid lock keeps any other master away.
	f, err := m.q.Read(p.queue, p.id)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil // deleted meanwhile
	case errors.Is(err, queue.ErrIncomplete):
		m.warn("%s: removing incomplete queue file from %s: %v", p.id, p.queue, err)
		if err := m.q.Remove(p.queue, p.id); err != nil {
			m.warn("%v", err)
		}
		return nil
	case errors.Is(err, queue.ErrCorrupt):
		m.warn("%s: moving corrupt queue file from %s to %s: %v", p.id, p.queue, queue.Corrupt, err)
		if err := m.q.MoveCorrupt(p.queue, p.id); err != nil {
			m.warn("%v", err)
		}
		return nil
	case err != nil:
		m.warn("%s: %v (will retry)", p.id, err)
		return nil
	}
	msg := &message{id: p.id, queue: p.queue, f: f, activeAt: m.now()}
	var todo []int
	for i, r := range f.Recipients {
		if r.Status == queue.StatusPending {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		// Every recipient was done but the removal was lost in a crash.
		m.remove(msg)
		return nil
	}
	if m.log != nil {
		m.log.Queued(p.id, f.Sender, f.ContentSize, len(f.Recipients))
	}

	if p.queue == queue.Deferred && m.tooOld(f, msg.activeAt) {
		msg.expired = true
		for _, i := range todo {
			msg.bounced = append(msg.bounced, outcome{idx: i, res: expiredResult(f, i), at: msg.activeAt})
		}
		return msg
	}
	if b := f.Attr(BounceAttr); b != "" {
		status, text := splitStatus(b, "5.0.0")
		for _, i := range todo {
			o := outcome{idx: i, at: msg.activeAt, res: deliver.Result{Index: i, Status: deliver.Bounced, DSN: status, Text: text, Relay: "none"}}
			msg.bounced = append(msg.bounced, o)
			m.logResult(msg, o, msg.activeAt)
		}
		return msg
	}
	m.plan(ctx, msg, todo)
	return msg
}

// tooOld tells whether a deferred message has passed its lifetime.
func (m *Manager) tooOld(f *queue.File, now time.Time) bool {
	life := m.s.MaxLifetime
	if f.Sender == "" {
		life = m.s.BounceLifetime
	}
	return now.Sub(f.Arrival) > life
}

// expiredResult gives an expired recipient its last deferral reason.
func expiredResult(f *queue.File, i int) deliver.Result {
	res := deliver.Result{Index: i, Status: deliver.Bounced, DSN: "4.4.7", Text: "message expired in the queue", Relay: "none"}
	if d, ok := f.Defers[i]; ok {
		res.DSN, res.Text, res.Relay, res.Remote = d.DSN, d.Text, d.Relay, d.Remote
	}
	return res
}

// splitStatus splits "5.4.6 Too many hops" into status and text.
func splitStatus(s, def string) (string, string) {
	code, text, _ := strings.Cut(strings.TrimSpace(s), " ")
	if len(code) >= 5 && (code[0] == '4' || code[0] == '5') && code[1] == '.' {
		return code, strings.TrimSpace(text)
	}
	return def, strings.TrimSpace(s)
}

// plan resolves the pending recipients and groups them into jobs by
// transport and next hop, at most RecipientLimit recipients each. With a
// limit of 1 each recipient is its own destination, so that the
// destination concurrency limit is per recipient (as Postfix does for
// local).
func (m *Manager) plan(ctx context.Context, msg *message, todo []int) {
	f := msg.f
	type group struct {
		transport, nexthop, key string
		rcpts                   []deliver.Recipient
	}
	var order []*group
	groups := map[string]*group{}
	for _, i := range todo {
		r := f.Recipients[i]
		res, err := m.resolver.Resolve(ctx, f.Sender, r.Address)
		if err != nil {
			m.warn("%s: resolve <%s>: %v", msg.id, r.Address, err)
			m.early(msg, i, deliver.Deferred, "4.3.0", "address resolver failure")
			continue
		}
		if _, ok := m.agents[res.Transport]; !ok {
			m.warn("%s: <%s>: no delivery agent for transport %q", msg.id, r.Address, res.Transport)
			m.early(msg, i, deliver.Deferred, "4.3.0", "mail transport unavailable")
			continue
		}
		addr := res.Recipient
		if addr == "" {
			addr = r.Address
		}
		lim := m.s.limits(res.Transport)
		key := res.Transport + "\x00" + res.Nexthop
		if lim.RecipientLimit == 1 {
			key += "\x00" + strings.ToLower(addr)
		}
		g := groups[key]
		if g == nil {
			g = &group{transport: res.Transport, nexthop: res.Nexthop, key: key}
			groups[key] = g
			order = append(order, g)
		}
		orig := r.Original
		if orig == "" {
			orig = r.Address
		}
		g.rcpts = append(g.rcpts, deliver.Recipient{Index: i, Address: addr, Original: orig, Notify: r.Notify})
	}
	for _, g := range order {
		lim := m.s.limits(g.transport)
		for start := 0; start < len(g.rcpts); start += lim.RecipientLimit {
			end := min(start+lim.RecipientLimit, len(g.rcpts))
			msg.jobs = append(msg.jobs, &job{msg: msg, transport: g.transport, destKey: g.key, req: m.request(msg, g.nexthop, g.rcpts[start:end])})
		}
	}
}

// early records an outcome decided before any delivery attempt.
func (m *Manager) early(msg *message, i int, st deliver.Status, dsn, text string) {
	o := outcome{idx: i, at: m.now(), res: deliver.Result{Index: i, Status: st, DSN: dsn, Text: text, Relay: "none"}}
	if st == deliver.Bounced {
		msg.bounced = append(msg.bounced, o)
	} else {
		msg.deferred = append(msg.deferred, o)
	}
	m.logResult(msg, o, msg.activeAt)
}

func (m *Manager) request(msg *message, nexthop string, rcpts []deliver.Recipient) *deliver.Request {
	f := msg.f
	return &deliver.Request{
		QueueID:       msg.id,
		Arrival:       f.Arrival,
		Sender:        f.Sender,
		Nexthop:       nexthop,
		EnvID:         f.Attr(queue.AttrEnvID),
		Ret:           f.Attr(queue.AttrRet),
		SMTPUTF8:      f.Attr(queue.AttrSMTPUTF8) != "",
		Body:          f.Attr(queue.AttrBody),
		Path:          m.q.Path(msg.queue, msg.id),
		ContentOffset: f.ContentOffset,
		ContentSize:   f.ContentSize,
		Recipients:    append([]deliver.Recipient(nil), rcpts...),
	}
}
