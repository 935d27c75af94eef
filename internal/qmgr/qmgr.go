package qmgr

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"mailhorn/internal/cleanup"
	"mailhorn/internal/deliver"
	"mailhorn/internal/maillog"
	"mailhorn/internal/queue"
)

// Resolution is where a recipient goes (trivial-rewrite's answer).
type Resolution struct {
	Transport string // master.cf service name: "local", "virtual", "smtp", ...
	Nexthop   string
	Recipient string // the address to deliver to, possibly rewritten
}

// Resolver resolves a recipient address; the envelope sender matters to
// sender-dependent routing. An error is temporary (a table down): the
// recipient is deferred.
type Resolver interface {
	Resolve(ctx context.Context, sender, addr string) (Resolution, error)
}

// Submitter queues a new message: cleanup.Cleanup. The queue manager submits
// its notifications through it, so that they are ordinary queue files.
type Submitter interface {
	Submit(ctx context.Context, m *cleanup.Message, content io.Reader) (string, error)
}

// Options are what New needs.
type Options struct {
	Queue     *queue.Queue
	Agents    map[string]deliver.Agent // by transport name
	Resolver  Resolver
	Submitter Submitter
	Log       *maillog.Service // "qmgr"; may be nil
	// AgentLogs log each transport's delivery lines under the agent's own
	// name ("mailhorn/virtual"), as Postfix does; a transport without one
	// logs as the queue manager.
	AgentLogs map[string]*maillog.Service
	Settings  Settings
	Now       func() time.Time // nil: time.Now
}

// Manager is the queue manager. Create it with New, start it with Run.
type Manager struct {
	q         *queue.Queue
	agents    map[string]deliver.Agent
	resolver  Resolver
	submit    Submitter
	log       *maillog.Service
	agentLogs map[string]*maillog.Service
	s         Settings
	now       func() time.Time

	kick chan struct{} // scan deferred/ now

	mu         sync.Mutex
	cond       *sync.Cond // signalled on every change of the state below
	backlog    []pending  // messages waiting to be activated, oldest first
	known      map[string]*message
	later      map[string][]func(*message) // admin requests for messages being read
	active     int                         // messages activated and not finished
	activating int
	running    int // deliveries in progress
	transports map[string]*transport
	stopping   bool
	started    bool
	scanned    bool // the start-up scan is done
	agentCtx   context.Context
}

// pending is a message known by ID and queue, not yet read.
type pending struct {
	id, queue string
}

// New returns a Manager; Run starts it.
func New(o Options) *Manager {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	m := &Manager{
		q: o.Queue, agents: o.Agents, resolver: o.Resolver, submit: o.Submitter,
		log: o.Log, agentLogs: o.AgentLogs, s: o.Settings, now: now,
		kick:       make(chan struct{}, 1),
		known:      map[string]*message{},
		later:      map[string][]func(*message){},
		transports: map[string]*transport{},
	}
	if m.s.ActiveLimit <= 0 {
		m.s.ActiveLimit = 20000
	}
	m.cond = sync.NewCond(&m.mu)
	return m
}

// feeders is how many messages are read and resolved in parallel.
const feeders = 4

// Run scans incoming/ and the due part of deferred/, then delivers until ctx
// is done. At shutdown it stops dispatching and waits up to ShutdownGrace for
// running deliveries, then cancels them; whatever did not finish is tried
// again at the next start.
func (m *Manager) Run(ctx context.Context) error {
	agentCtx, cancelAgents := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelAgents()
	m.mu.Lock()
	if m.started {
		m.mu.Unlock()
		return errors.New("qmgr: already running")
	}
	m.started, m.agentCtx = true, agentCtx
	m.mu.Unlock()

	if err := m.scan(queue.Incoming, false); err != nil {
		return err
	}
	if err := m.scan(queue.Deferred, true); err != nil {
		return err
	}
	m.mu.Lock()
	m.scanned = true
	m.cond.Broadcast()
	m.mu.Unlock()
	var wg sync.WaitGroup
	for i := 0; i < feeders; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.feed(ctx)
		}()
	}

	period := m.s.QueueRunDelay
	if period <= 0 {
		period = 300 * time.Second
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
		case <-m.kick:
		}
		if err := m.scan(queue.Deferred, true); err != nil {
			m.warn("%v", err)
		}
	}

	m.mu.Lock()
	m.stopping = true
	m.cond.Broadcast()
	m.mu.Unlock()
	wg.Wait()
	grace := time.AfterFunc(m.s.ShutdownGrace, cancelAgents)
	defer grace.Stop()
	m.mu.Lock()
	for m.running > 0 || m.activating > 0 {
		m.cond.Wait()
	}
	m.mu.Unlock()
	return nil
}

// Queued tells the manager that cleanup committed a new message to
// incoming/. It never blocks.
func (m *Manager) Queued(id string) { m.enqueue(pending{id: id, queue: queue.Incoming}) }

// Kick makes the manager scan deferred/ for due messages now, as it does
// every queue_run_delay.
func (m *Manager) Kick() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

func (m *Manager) enqueue(p pending) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.known[p.id]; ok || m.stopping {
		return
	}
	m.known[p.id] = nil
	m.backlog = append(m.backlog, p)
	m.cond.Broadcast()
}

// scan adds the files of a queue to the backlog; for deferred/ only those
// whose next attempt (mtime) has come.
func (m *Manager) scan(name string, dueOnly bool) error {
	ents, err := m.q.Scan(name)
	if err != nil {
		return err
	}
	now := m.now()
	for _, e := range ents {
		if dueOnly && e.Mtime.After(now) {
			continue
		}
		m.enqueue(pending{id: e.ID, queue: name})
	}
	return nil
}

// feed activates messages from the backlog while fewer than ActiveLimit
// are in memory.
func (m *Manager) feed(ctx context.Context) {
	for {
		m.mu.Lock()
		for !m.stopping && (len(m.backlog) == 0 || m.active >= m.s.ActiveLimit) {
			m.cond.Wait()
		}
		if m.stopping {
			m.mu.Unlock()
			return
		}
		p := m.backlog[0]
		m.backlog = m.backlog[1:]
		m.active++
		m.activating++
		m.mu.Unlock()

		msg := m.activate(ctx, p)

		m.mu.Lock()
		m.activating--
		if msg == nil {
			delete(m.known, p.id)
			delete(m.later, p.id)
			m.active--
		}
		m.cond.Broadcast()
		m.mu.Unlock()
		if msg != nil {
			m.start(msg)
		}
	}
}

// WaitScanned waits until the start-up scan has listed the queue. The
// master accepts mail only after it, so that no file the scan finds can
// be one that cleanup is still writing.
func (m *Manager) WaitScanned(ctx context.Context) error {
	return m.waitUntil(ctx, func() bool { return m.scanned })
}

// waitUntil waits, with m.mu held around each test, until done() is true
// or ctx ends.
func (m *Manager) waitUntil(ctx context.Context, done func() bool) error {
	stop := context.AfterFunc(ctx, func() {
		m.mu.Lock()
		m.cond.Broadcast()
		m.mu.Unlock()
	})
	defer stop()
	m.mu.Lock()
	defer m.mu.Unlock()
	for !done() {
		if err := ctx.Err(); err != nil {
			return err
		}
		m.cond.Wait()
	}
	return nil
}

// WaitIdle waits until the manager has made its start-up scan and no
// message is waiting or being delivered: for tests and for "flush and
// wait" tools.
func (m *Manager) WaitIdle(ctx context.Context) error {
	return m.waitUntil(ctx, func() bool { return m.scanned && len(m.backlog) == 0 && m.active == 0 })
}

func (m *Manager) warn(format string, args ...any) {
	if m.log != nil {
		m.log.Warning(format, args...)
	}
}

func (m *Manager) logf(format string, args ...any) {
	if m.log != nil {
		m.log.Printf(format, args...)
	}
}
