package queue

import (
	"fmt"
	"os"
)

// Update changes a queue file in place: marks recipients done and appends
// records, then makes the change durable with one data sync. Marks are
// written first, so that a crash between the two leaves, at worst, a
// delivered recipient without its deferral history, never a delivered
// recipient still pending. Either argument may be empty.
func (q *Queue) Update(name, id string, done []Recipient, end int64, app *Appender) (int64, error) {
	f, err := os.OpenFile(q.Path(name, id), os.O_RDWR, 0)
	if err != nil {
		return end, fmt.Errorf("queue: update %s: %w", id, err)
	}
	defer f.Close()
	for _, r := range done {
		if err := MarkDone(f, r); err != nil && err != ErrNotPending {
			return end, fmt.Errorf("queue file %s: %w", id, err)
		}
	}
	if app != nil && app.Len() > 0 {
		if end, err = app.WriteTo(f, end); err != nil {
			return end, fmt.Errorf("queue file %s: %w", id, err)
		}
	}
	if err := datasync(f); err != nil {
		return end, fmt.Errorf("queue file %s: sync: %w", id, err)
	}
	return end, nil
}
