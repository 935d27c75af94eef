package qmgr

import (
	"time"

	"mailhorn/internal/deliver"
	"mailhorn/internal/maillog"
	"mailhorn/internal/queue"
)

// transport is one transport's scheduling state: the deliveries running,
// and per destination the jobs waiting, served round-robin so that one busy
// destination does not starve the others.
type transport struct {
	lim   Limits
	busy  int
	dests map[string]*dest
	ring  []string // destinations with waiting jobs, in serving order
}

type dest struct {
	busy int
	jobs []*job
}

// start hands an activated message's jobs to the scheduler.
func (m *Manager) start(msg *message) {
	m.mu.Lock()
	m.known[msg.id] = msg
	for _, fn := range m.later[msg.id] {
		fn(msg)
	}
	delete(m.later, msg.id)
	msg.jobsLeft = len(msg.jobs)
	if msg.jobsLeft == 0 {
		m.mu.Unlock()
		m.finish(msg)
		return
	}
	for _, j := range msg.jobs {
		t := m.transports[j.transport]
		if t == nil {
			t = &transport{lim: m.s.limits(j.transport), dests: map[string]*dest{}}
			m.transports[j.transport] = t
		}
		d := t.dests[j.destKey]
		if d == nil {
			d = &dest{}
			t.dests[j.destKey] = d
		}
		if len(d.jobs) == 0 {
			t.ring = append(t.ring, j.destKey)
		}
		d.jobs = append(d.jobs, j)
	}
	msg.jobs = nil
	m.dispatchLocked()
	m.mu.Unlock()
}

// dispatchLocked starts every job the limits allow. Called with m.mu held.
func (m *Manager) dispatchLocked() {
	if m.stopping {
		return
	}
	for name, t := range m.transports {
		for t.busy < t.lim.Processes {
			pick := -1
			for i, k := range t.ring {
				if t.dests[k].busy < t.lim.DestConcurrent {
					pick = i
					break
				}
			}
			if pick < 0 {
				break
			}
			k := t.ring[pick]
			d := t.dests[k]
			j := d.jobs[0]
			d.jobs = d.jobs[1:]
			t.ring = append(t.ring[:pick], t.ring[pick+1:]...)
			if len(d.jobs) > 0 {
				t.ring = append(t.ring, k)
			}
			d.busy++
			t.busy++
			m.running++
			go m.run(name, t, d, j)
		}
	}
}

// run performs one delivery and records its results.
func (m *Manager) run(name string, t *transport, d *dest, j *job) {
	start := m.now()
	results := m.agents[name].Deliver(m.agentCtx, j.req)
	m.record(j, start, results)

	m.mu.Lock()
	d.busy--
	t.busy--
	if d.busy == 0 && len(d.jobs) == 0 {
		delete(t.dests, j.destKey)
	}
	j.msg.jobsLeft--
	last := j.msg.jobsLeft == 0
	m.dispatchLocked()
	m.mu.Unlock()

	if last {
		m.finish(j.msg)
	}
	m.mu.Lock()
	m.running--
	m.cond.Broadcast()
	m.mu.Unlock()
}

// record marks the sent recipients done (one data sync for the batch),
// keeps the other outcomes for finish, and logs every result.
func (m *Manager) record(j *job, start time.Time, results []deliver.Result) {
	msg := j.msg
	byIdx := make(map[int]deliver.Result, len(results))
	for _, r := range results {
		byIdx[r.Index] = r
	}
	now := m.now()
	var done []queue.Recipient
	var outs []outcome
	for _, rc := range j.req.Recipients {
		res, ok := byIdx[rc.Index]
		if !ok || res.Status < deliver.Sent || res.Status > deliver.Bounced {
			res = deliver.Result{Index: rc.Index, Status: deliver.Deferred, DSN: "4.3.0", Text: "delivery agent returned no result", Relay: j.transport}
		}
		res.Index = rc.Index
		if res.Relay == "" {
			res.Relay = j.transport
		}
		if res.Setup == 0 && res.Transmit == 0 {
			res.Transmit = now.Sub(start)
		}
		if res.Status == deliver.Sent {
			done = append(done, msg.f.Recipients[rc.Index])
		}
		outs = append(outs, outcome{idx: rc.Index, res: res, at: now, transport: j.transport})
	}
	if len(done) > 0 {
		var err error
		if m.completes(j, len(done)) {
			// The file goes right after: its removal records the delivery.
			err = m.q.MarkDoneUnsynced(msg.queue, msg.id, done)
		} else {
			_, err = m.q.Update(msg.queue, msg.id, done, 0, nil)
		}
		if err != nil {
			// Delivered but not marked: it will be delivered again. A
			// duplicate beats a loss.
			m.warn("%s: %v", msg.id, err)
		}
	}
	m.mu.Lock()
	for _, o := range outs {
		switch o.res.Status {
		case deliver.Sent:
			msg.f.Recipients[o.idx].Status = queue.StatusDone
			msg.sent = append(msg.sent, o)
		case deliver.Bounced:
			msg.bounced = append(msg.bounced, o)
		default:
			msg.deferred = append(msg.deferred, o)
		}
	}
	m.mu.Unlock()
	for _, o := range outs {
		m.logResult(msg, o, start)
	}
}

// completes tells whether a job whose results mark ndone recipients done
// finishes its message for good: it is the last job, every recipient is
// then done, and nothing was bounced or deferred, so finish removes the
// file at once.
func (m *Manager) completes(j *job, ndone int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	msg := j.msg
	if msg.jobsLeft != 1 || len(msg.bounced) > 0 || len(msg.deferred) > 0 || msg.hold || m.stopping {
		return false
	}
	pending := 0
	for _, r := range msg.f.Recipients {
		if r.Status == queue.StatusPending {
			pending++
		}
	}
	return pending == ndone
}

// logResult writes the "to=<...>, relay=..., status=..." line.
func (m *Manager) logResult(msg *message, o outcome, start time.Time) {
	log := m.log
	if l := m.agentLogs[o.transport]; l != nil {
		log = l
	}
	if log == nil {
		return
	}
	r := msg.f.Recipients[o.idx]
	status := o.res.Status.String()
	log.Deliver(maillog.Delivery{
		ID:      msg.id,
		To:      r.Address,
		OrigTo:  r.Original,
		Relay:   o.res.Relay,
		Arrival: msg.f.Arrival,
		Delays: [4]time.Duration{
			msg.activeAt.Sub(msg.f.Arrival),
			start.Sub(msg.activeAt),
			o.res.Setup,
			o.res.Transmit,
		},
		DSN:      o.res.DSN,
		Status:   status,
		Detail:   o.res.Text,
		Finished: o.at,
	})
}
