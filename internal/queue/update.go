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
	return q.update(name, id, done, end, app, true)
}

// MarkDoneUnsynced marks recipients done without waiting for the disk: for
// the last recipients of a file that is removed right after. The removal is
// then the durable record; should the machine crash before it reaches the
// disk, the recipients are delivered again, never lost. (Postfix never
// syncs its done marks.) It saves a data sync per message.
func (q *Queue) MarkDoneUnsynced(name, id string, done []Recipient) error {
	_, err := q.update(name, id, done, 0, nil, false)
	return err
}

func (q *Queue) update(name, id string, done []Recipient, end int64, app *Appender, sync bool) (int64, error) {
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
	if !sync {
		return end, nil
	}
	if err := datasync(f); err != nil {
		return end, fmt.Errorf("queue file %s: sync: %w", id, err)
	}
	return end, nil
}
