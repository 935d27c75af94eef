package control

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"mailhorn/internal/maillog"
	"mailhorn/internal/queue"
)

// Handler does what the requests ask. QueueHandler is the implementation;
// Client forwards to a remote one.
type Handler interface {
	// List calls fn for every message in the queue.
	List(ctx context.Context, fn func(Message) error) error
	// Flush schedules deferred mail for delivery now; site "" is all of it.
	Flush(ctx context.Context, site string) error
	// Apply does a delete, hold, release, requeue or deliver on one
	// message (Action.ID) or on every message in the queues (Action.All),
	// calling fn, if not nil, with each message acted on when All is set.
	// It returns how many messages were acted on; an ID in none of the
	// queues counts zero and is no error.
	Apply(ctx context.Context, a Action, fn func(id string)) (int, error)
	// Purge removes old temporary files (see Purge), calling fn, if not
	// nil, with each path removed, relative to the queue directory.
	Purge(ctx context.Context, fn func(path string)) (int, error)
}

// Action is an operation on queued messages.
type Action struct {
	Op     Op
	ID     string   // one message, or
	All    bool     // every message in Queues
	Queues []string // nil: DefaultQueues(Op)
}

// Admin is what a queue manager offers: qmgr.Manager implements it for a
// running system, FileAdmin for a stopped one. A manager may also have
// IsActive(id string) bool, telling which messages are being delivered
// (listed as queue "active", marked "*" by mailq).
type Admin interface {
	Hold(id string) error
	Release(id string) error
	Delete(id string) error
	Requeue(id string) error
	Flush() error
}

// QueueHandler is the Handler over a queue directory and its manager.
type QueueHandler struct {
	Queue *queue.Queue
	Admin Admin
	// EmptyAddress stands for the null sender in listings
	// (empty_address_recipient, default MAILER-DAEMON).
	EmptyAddress string
	Now          func() time.Time // nil: time.Now
}

func (h *QueueHandler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// List lists the maildrop, incoming, deferred and hold queues.
func (h *QueueHandler) List(ctx context.Context, fn func(Message) error) error {
	empty := h.EmptyAddress
	if empty == "" {
		empty = "MAILER-DAEMON"
	}
	return ListQueue(ctx, h.Queue, ListOptions{Active: h.isActive, EmptyAddress: empty}, fn)
}

// Flush asks the manager to try all deferred mail now. The manager cannot
// select by destination, so a site flushes everything (best effort, as
// docs/queue-tools.md says).
func (h *QueueHandler) Flush(ctx context.Context, site string) error {
	return h.Admin.Flush()
}

// Apply implements Handler.
func (h *QueueHandler) Apply(ctx context.Context, a Action, fn func(id string)) (int, error) {
	queues := a.Queues
	if len(queues) == 0 {
		queues = DefaultQueues(a.Op)
	}
	if !a.All {
		ok, err := h.applyOne(a.Op, a.ID, queues)
		if ok {
			return 1, err
		}
		return 0, err
	}
	n := 0
	seen := map[string]bool{} // a message moved to a queue scanned later
	for _, name := range scanDirs(queues) {
		ents, err := h.Queue.Scan(name)
		if err != nil {
			return n, err
		}
		for _, e := range ents {
			if err := ctx.Err(); err != nil {
				return n, err
			}
			if seen[e.ID] {
				continue
			}
			seen[e.ID] = true
			ok, err := h.applyOne(a.Op, e.ID, queues)
			if err != nil {
				return n, err
			}
			if ok {
				n++
				if fn != nil {
					fn(e.ID)
				}
			}
		}
	}
	return n, nil
}

// scanDirs are the directories holding the messages of the named queues:
// mailhorn's "active" messages have their files in incoming/ or deferred/.
func scanDirs(queues []string) []string {
	var dirs []string
	for _, q := range queues {
		names := []string{q}
		if q == queue.Active {
			names = []string{queue.Incoming, queue.Deferred}
		}
		for _, n := range names {
			if !slices.Contains(dirs, n) {
				dirs = append(dirs, n)
			}
		}
	}
	return dirs
}

func (h *QueueHandler) isActive(id string) bool {
	a, ok := h.Admin.(interface{ IsActive(string) bool })
	return ok && a.IsActive(id)
}

// applyOne acts on one message if it is in one of the queues; it tells
// whether it did. A message that vanishes meanwhile is not an error.
func (h *QueueHandler) applyOne(op Op, id string, queues []string) (bool, error) {
	name, err := h.Queue.Locate(id)
	if errors.Is(err, queue.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// A message being delivered is in queue "active" to the tools; its
	// file stays in incoming/ or deferred/.
	shown := name
	if name != queue.Hold && h.isActive(id) {
		shown = queue.Active
	}
	if !slices.Contains(queues, shown) {
		return false, nil
	}
	switch op {
	case OpDelete:
		err = h.Admin.Delete(id)
	case OpHold:
		if name == queue.Hold {
			return false, nil
		}
		err = h.Admin.Hold(id)
	case OpRelease:
		if name != queue.Hold {
			return false, nil
		}
		err = h.Admin.Release(id)
	case OpRequeue:
		if name == queue.Hold {
			err = h.Admin.Release(id)
		} else {
			err = h.Admin.Requeue(id)
		}
	case OpDeliver:
		if name == queue.Hold {
			return false, nil
		}
		err = h.Admin.Requeue(id)
	default:
		return false, fmt.Errorf("control: %s is not an operation on messages", op)
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, queue.ErrNotFound) {
		return false, nil // lost a race with the queue manager
	}
	if err != nil {
		return false, fmt.Errorf("%s %s: %w", op, id, err)
	}
	return true, nil
}

// Purge implements Handler with the package's Purge.
func (h *QueueHandler) Purge(ctx context.Context, fn func(path string)) (int, error) {
	return Purge(ctx, h.Queue, h.now(), fn)
}

// FileAdmin is the Admin of a stopped mail system: it acts on the queue
// files directly, as the queue manager would, and the manager picks the
// result up at its next start. Never use it while a master runs on the
// queue: the manager's memory would not hear of the change.
type FileAdmin struct {
	Queue *queue.Queue
	Log   *maillog.Service // "postsuper"; may be nil
	Now   func() time.Time // nil: time.Now
}

func (f *FileAdmin) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *FileAdmin) logf(format string, args ...any) {
	if f.Log != nil {
		f.Log.Printf(format, args...)
	}
}

// Hold moves a message to hold/.
func (f *FileAdmin) Hold(id string) error {
	name, err := f.Queue.Locate(id)
	if err != nil || name == queue.Hold {
		return err
	}
	if err := f.Queue.Move(id, name, queue.Hold); err != nil {
		return err
	}
	f.logf("%s: placed on hold", id)
	return nil
}

// Release moves a held message to incoming/, which the manager scans at
// start.
func (f *FileAdmin) Release(id string) error {
	name, err := f.Queue.Locate(id)
	if err != nil {
		return err
	}
	if name != queue.Hold {
		return fmt.Errorf("queue: %s is not on hold", id)
	}
	if err := f.Queue.Move(id, queue.Hold, queue.Incoming); err != nil {
		return err
	}
	f.logf("%s: released from hold", id)
	return nil
}

// Delete removes a message.
func (f *FileAdmin) Delete(id string) error {
	name, err := f.Queue.Locate(id)
	if err != nil {
		return err
	}
	if err := f.Queue.Remove(name, id); err != nil {
		return err
	}
	if f.Log != nil {
		f.Log.Removed(id)
	}
	return nil
}

// Requeue makes a deferred message due now.
func (f *FileAdmin) Requeue(id string) error {
	name, err := f.Queue.Locate(id)
	if err != nil {
		return err
	}
	if name == queue.Hold {
		return fmt.Errorf("queue: %s is on hold", id)
	}
	if err := f.Queue.SetNextAttempt(name, id, f.now()); err != nil {
		return err
	}
	f.logf("%s: requeued", id)
	return nil
}

// Flush makes every deferred message due now.
func (f *FileAdmin) Flush() error {
	ents, err := f.Queue.Scan(queue.Deferred)
	if err != nil {
		return err
	}
	now := f.now()
	var errs []error
	for _, e := range ents {
		if err := f.Queue.SetNextAttempt(queue.Deferred, e.ID, now); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
