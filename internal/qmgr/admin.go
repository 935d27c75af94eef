package qmgr

import (
	"fmt"

	"mailhorn/internal/queue"
)

// The administrative operations (postsuper(1), postqueue -f). Each works on
// a message whether it is waiting on disk or being delivered: a message in
// delivery is held or deleted as soon as its running deliveries end, and
// recipients delivered meanwhile stay delivered.

// Hold moves a message to hold/, where it is never scheduled.
func (m *Manager) Hold(id string) error {
	if m.whileActive(id, func(msg *message) { msg.hold = true }) {
		return nil
	}
	name, err := m.q.Locate(id)
	if err != nil {
		return err
	}
	if name == queue.Hold {
		return nil
	}
	if err := m.q.Move(id, name, queue.Hold); err != nil {
		return err
	}
	m.logf("%s: placed on hold", id)
	return nil
}

// Release moves a held message back to incoming/ and schedules it.
func (m *Manager) Release(id string) error {
	name, err := m.q.Locate(id)
	if err != nil {
		return err
	}
	if name != queue.Hold {
		return fmt.Errorf("queue: %s is not on hold", id)
	}
	if err := m.q.Move(id, queue.Hold, queue.Incoming); err != nil {
		return err
	}
	m.logf("%s: released from hold", id)
	m.enqueue(pending{id: id, queue: queue.Incoming})
	return nil
}

// Delete removes a message from any queue.
func (m *Manager) Delete(id string) error {
	if m.whileActive(id, func(msg *message) { msg.del = true }) {
		return nil
	}
	name, err := m.q.Locate(id)
	if err != nil {
		return err
	}
	if err := m.q.Remove(name, id); err != nil {
		return err
	}
	if m.log != nil {
		m.log.Removed(id)
	}
	return nil
}

// Requeue schedules a deferred message for delivery now.
func (m *Manager) Requeue(id string) error {
	if m.whileActive(id, func(*message) {}) {
		return nil
	}
	name, err := m.q.Locate(id)
	if err != nil {
		return err
	}
	if name == queue.Hold {
		return fmt.Errorf("queue: %s is on hold", id)
	}
	if err := m.q.SetNextAttempt(name, id, m.now()); err != nil {
		return err
	}
	m.enqueue(pending{id: id, queue: name})
	return nil
}

// Flush schedules every deferred message for delivery now.
func (m *Manager) Flush() error {
	ents, err := m.q.Scan(queue.Deferred)
	if err != nil {
		return err
	}
	now := m.now()
	for _, e := range ents {
		if err := m.q.SetNextAttempt(queue.Deferred, e.ID, now); err != nil {
			m.warn("%v", err)
			continue
		}
		m.enqueue(pending{id: e.ID, queue: queue.Deferred})
	}
	return nil
}

// whileActive applies fn to the message if it is in memory and tells
// whether it was. A message still in the backlog is dropped from it, so
// that the caller acts on its file alone.
func (m *Manager) whileActive(id string, fn func(*message)) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	msg, ok := m.known[id]
	if !ok {
		return false
	}
	if msg != nil {
		fn(msg)
		return true
	}
	for i, p := range m.backlog {
		if p.id == id {
			m.backlog = append(m.backlog[:i], m.backlog[i+1:]...)
			delete(m.known, id)
			m.cond.Broadcast()
			return false
		}
	}
	// Being read right now: act when it is handed to the scheduler.
	m.later[id] = append(m.later[id], fn)
	return true
}

// IsActive tells whether the manager holds the message in memory (being
// delivered or waiting for it): mailq marks it with "*".
func (m *Manager) IsActive(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.known[id] != nil
}
