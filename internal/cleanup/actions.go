package cleanup

import (
	"fmt"
	"io"

	"mailhorn/internal/queue"
)

// countReader counts the content bytes read, for Message.EndOfData.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// redirect replaces every recipient with addr (access(5) REDIRECT),
// keeping their DSN parameters; identical ones are merged later by the
// duplicate filter.
func redirect(in []Recipient, addr string) []Recipient {
	out := make([]Recipient, 0, len(in))
	for _, r := range in {
		out = append(out, Recipient{Address: addr, ORCPT: r.ORCPT, Notify: r.Notify})
	}
	return out
}

// discard accepts a message without queueing it (access(5) DISCARD): it
// takes a queue ID, so that the client and the log see one, reads the
// content, and keeps nothing.
func (c *Cleanup) discard(m *Message, content io.Reader) (string, error) {
	w, err := c.q.Create(&queue.Envelope{Arrival: c.opt.now(), Sender: m.Sender, Attrs: m.Attrs})
	if err != nil {
		return "", fmt.Errorf("cleanup: %w", err)
	}
	id := w.ID
	if err := w.Abort(); err != nil {
		c.warn("%s: %v", id, err)
	}
	if m.OnQueueID != nil {
		m.OnQueueID(id)
	}
	n, err := io.Copy(io.Discard, content)
	if err != nil {
		return "", fmt.Errorf("cleanup: %w", readError{err})
	}
	if m.EndOfData != nil {
		if e := m.EndOfData(n); e != nil {
			return "", e
		}
	}
	c.logf("%s: discard: %s", id, m.Discard)
	return id, nil
}

// hold moves a committed message to the hold queue (access(5) HOLD), where
// the queue manager leaves it until `mailhorn super -H` releases it. It
// reports whether the message is on hold; if the move fails the message
// stays in incoming and is delivered as usual.
func (c *Cleanup) hold(id, reason string) bool {
	if err := c.q.Move(id, queue.Incoming, queue.Hold); err != nil {
		c.warn("%s: cannot put message on hold: %v", id, err)
		return false
	}
	c.logf("%s: hold: %s", id, reason)
	return true
}
