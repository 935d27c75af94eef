package queue

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// ErrNotFound is returned for a queue ID that is in none of the queues
// looked at.
var ErrNotFound = errors.New("no such queue file")

// Entry is one file found by Scan.
type Entry struct {
	ID    string
	Queue string
	Mtime time.Time // in deferred/: the time of the next attempt
}

// Scan lists the files of a hashed queue (incoming, deferred, hold), in ID
// (arrival) order. Names that are not queue IDs are skipped: they are no
// one's to touch.
func (q *Queue) Scan(name string) ([]Entry, error) {
	var out []Entry
	for i := 0; i < 16; i++ {
		dir := filepath.Join(q.dir, name, fmt.Sprintf("%X", i))
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("queue: scan %s: %w", dir, err)
		}
		for _, e := range ents {
			if !ValidID(e.Name()) || !e.Type().IsRegular() {
				continue
			}
			info, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed meanwhile
			}
			if err != nil {
				return nil, fmt.Errorf("queue: scan %s: %w", dir, err)
			}
			out = append(out, Entry{ID: e.Name(), Queue: name, Mtime: info.ModTime()})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Locate tells which of the hashed queues holds the message.
func (q *Queue) Locate(id string) (string, error) {
	if !ValidID(id) {
		return "", fmt.Errorf("queue: %q: %w", id, ErrNotFound)
	}
	for _, name := range hashedDirs {
		if _, err := os.Lstat(q.Path(name, id)); err == nil {
			return name, nil
		}
	}
	return "", fmt.Errorf("queue: %s: %w", id, ErrNotFound)
}

// Read opens and parses a queue file.
func (q *Queue) Read(name, id string) (*File, error) {
	f, err := os.Open(q.Path(name, id))
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	qf, err := Decode(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("queue file %s: %w", id, err)
	}
	return qf, nil
}

// Move renames a message from one queue to another and makes the new entry
// durable. A move lost in a crash is harmless (the message is scanned again
// where it was) except for hold, which is why the target is synced.
func (q *Queue) Move(id, from, to string) error {
	if err := os.Rename(q.Path(from, id), q.Path(to, id)); err != nil {
		return fmt.Errorf("queue: move %s from %s to %s: %w", id, from, to, err)
	}
	if err := q.syncers[filepath.Dir(q.Path(to, id))].Sync(); err != nil {
		return fmt.Errorf("queue: move %s to %s: %w", id, to, err)
	}
	return nil
}

// MoveCorrupt puts a file that does not parse into corrupt/, where nothing
// reads it again.
func (q *Queue) MoveCorrupt(from, id string) error {
	if err := os.Rename(q.Path(from, id), filepath.Join(q.dir, Corrupt, id)); err != nil {
		return fmt.Errorf("queue: move %s to corrupt: %w", id, err)
	}
	return nil
}

// Remove deletes a message's file. Removal need not be durable: a file
// that comes back after a crash has every recipient done, or is delivered
// again, which the done marks prevent.
func (q *Queue) Remove(name, id string) error {
	if err := os.Remove(q.Path(name, id)); err != nil {
		return fmt.Errorf("queue: remove %s: %w", id, err)
	}
	return nil
}

// SetNextAttempt sets a deferred file's modification time, which is when
// it is tried again.
func (q *Queue) SetNextAttempt(name, id string, t time.Time) error {
	if err := os.Chtimes(q.Path(name, id), time.Time{}, t); err != nil {
		return fmt.Errorf("queue: %s: %w", id, err)
	}
	return nil
}
