package qmgr

import (
	"time"

	"mailhorn/internal/deliver"
	"mailhorn/internal/queue"
)

// finish decides a message's fate once every delivery attempt of this
// round is over: notifications for bounced recipients (and their done
// marks), a retry time for deferred ones, or removal.
func (m *Manager) finish(msg *message) {
	defer m.release(msg)
	m.mu.Lock()
	stopping, del, hold := m.stopping, msg.del, msg.hold
	m.mu.Unlock()
	if del {
		m.remove(msg)
		return
	}
	if stopping {
		// Whatever is not marked done is tried again at the next start.
		if m.pendingCount(msg) == 0 {
			m.remove(msg)
		}
		return
	}
	now := m.now()

	if msg.expired {
		m.logf("%s: from=<%s>, status=expired, returned to sender", msg.id, msg.f.Sender)
	}
	if len(msg.bounced) > 0 {
		if err := m.notifyFailure(msg, msg.bounced); err != nil {
			// Not marked done: the recipients are tried (and bounced)
			// again at the next attempt, and the notice with them.
			m.warn("%s: cannot queue the non-delivery notification: %v", msg.id, err)
			for _, o := range msg.bounced {
				o.res.Status, o.res.DSN, o.res.Text = deliver.Deferred, "4.3.0", "bounce or trace service failure"
				msg.deferred = append(msg.deferred, o)
			}
		} else {
			var done []queue.Recipient
			for _, o := range msg.bounced {
				done = append(done, msg.f.Recipients[o.idx])
			}
			if _, err := m.q.Update(msg.queue, msg.id, done, 0, nil); err != nil {
				m.warn("%s: %v", msg.id, err)
			} else {
				for _, o := range msg.bounced {
					msg.f.Recipients[o.idx].Status = queue.StatusDone
				}
			}
		}
	}
	if len(msg.sent) > 0 {
		if err := m.notifySuccess(msg, msg.sent); err != nil {
			m.warn("%s: cannot queue the delivery notification: %v", msg.id, err)
		}
	}
	if m.pendingCount(msg) == 0 {
		m.remove(msg)
		return
	}
	if len(msg.deferred) > 0 {
		m.deferMessage(msg, now)
	}
	if hold {
		if err := m.q.Move(msg.id, msg.queue, queue.Hold); err != nil {
			m.warn("%v", err)
		} else {
			m.logf("%s: placed on hold", msg.id)
		}
	}
}

// deferMessage records why recipients were deferred, warns the sender once
// if the message is late, and sets the time of the next attempt.
func (m *Manager) deferMessage(msg *message, now time.Time) {
	f := msg.f
	app := &queue.Appender{}
	for _, o := range msg.deferred {
		app.Defer(queue.Defer{Index: o.idx, Time: o.at, DSN: o.res.DSN, Relay: o.res.Relay, Text: o.res.Text, Remote: o.res.Remote})
	}
	backoff := m.s.backoff(f.Backoff)
	app.Retry(now, backoff)
	if m.s.DelayWarning > 0 && !f.DelayWarned && now.Sub(f.Arrival) >= m.s.DelayWarning {
		if err := m.notifyDelay(msg, msg.deferred, now); err != nil {
			m.warn("%s: cannot queue the delay notification: %v", msg.id, err)
		} else {
			app.DelayWarned(now)
		}
	}
	if _, err := m.q.Update(msg.queue, msg.id, nil, f.End, app); err != nil {
		m.warn("%s: %v", msg.id, err)
	}
	if msg.queue != queue.Deferred {
		if err := m.q.Move(msg.id, msg.queue, queue.Deferred); err != nil {
			m.warn("%v", err)
			return
		}
		msg.queue = queue.Deferred
	}
	if err := m.q.SetNextAttempt(msg.queue, msg.id, now.Add(backoff)); err != nil {
		m.warn("%v", err)
	}
}

func (m *Manager) pendingCount(msg *message) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, r := range msg.f.Recipients {
		if r.Status == queue.StatusPending {
			n++
		}
	}
	return n
}

// remove deletes a finished message's file.
func (m *Manager) remove(msg *message) {
	if err := m.q.Remove(msg.queue, msg.id); err != nil {
		m.warn("%v", err)
		return
	}
	if m.log != nil {
		m.log.Removed(msg.id)
	}
}

// release forgets a finished message.
func (m *Manager) release(msg *message) {
	m.mu.Lock()
	delete(m.known, msg.id)
	m.active--
	m.cond.Broadcast()
	m.mu.Unlock()
}
