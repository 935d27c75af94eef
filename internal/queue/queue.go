package queue

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"mailhorn/internal/durable"
)

// Queue directories under queue_directory.
const (
	Incoming = "incoming" // new, acknowledged mail not yet delivered
	Active   = "active"   // reserved: in mailhorn the active set lives in the queue manager's memory
	Deferred = "deferred" // mail that waits for a retry; the file's mtime is the next attempt
	Hold     = "hold"     // mail put on hold by the administrator
	Corrupt  = "corrupt"  // files that do not parse, kept for inspection
	Maildrop = "maildrop" // local submissions (sendmail) waiting for pickup
)

// hashedDirs are spread over 16 subdirectories so that a million files never
// share one directory.
var hashedDirs = []string{Incoming, Deferred, Hold}

// Queue is a queue directory tree.
type Queue struct {
	dir     string
	ids     *IDSource
	syncers map[string]*durable.DirSyncer // by directory path; built once in Open
}

// Open prepares the queue tree under dir, creating what is missing.
func Open(dir string, ids *IDSource) (*Queue, error) {
	q := &Queue{dir: dir, ids: ids, syncers: map[string]*durable.DirSyncer{}}
	for _, d := range []string{Incoming, Active, Deferred, Hold, Corrupt, Maildrop} {
		p := filepath.Join(dir, d)
		if err := os.MkdirAll(p, 0o700); err != nil {
			return nil, fmt.Errorf("queue %s: %w", dir, err)
		}
	}
	for _, d := range hashedDirs {
		for i := 0; i < 16; i++ {
			p := filepath.Join(dir, d, fmt.Sprintf("%X", i))
			if err := os.MkdirAll(p, 0o700); err != nil {
				return nil, fmt.Errorf("queue %s: %w", dir, err)
			}
			q.syncers[p] = durable.NewDirSyncer(p)
		}
	}
	return q, nil
}

// Dir is the queue directory.
func (q *Queue) Dir() string { return q.dir }

// Path is where the file of a message with this ID lives in queue name.
func (q *Queue) Path(name, id string) string {
	return filepath.Join(q.dir, name, HashDir(id), id)
}

// Writer is a queue file being written. Nothing is acknowledged until Commit
// returns nil; Abort (or a failed Commit) removes the file.
type Writer struct {
	q    *Queue
	ID   string
	f    *os.File
	path string
	enc  *Encoder
}

// Create starts a new queue file in incoming/.
func (q *Queue) Create(env *Envelope) (*Writer, error) {
	for tries := 0; ; tries++ {
		id := q.ids.Next()
		path := q.Path(Incoming, id)
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if errors.Is(err, fs.ErrExist) && tries < 10 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("queue: create %s: %w", path, err)
		}
		return &Writer{q: q, ID: id, f: f, path: path, enc: NewEncoder(f, env)}, nil
	}
}

// Content is where the message content is written.
func (w *Writer) Content() io.Writer { return w.enc.Content() }

// EndContent closes the content record.
func (w *Writer) EndContent() { w.enc.EndContent() }

// AddRecipient adds an envelope recipient.
func (w *Writer) AddRecipient(r Recipient) { w.enc.AddRecipient(r) }

// Size is the queue file size so far.
func (w *Writer) Size() int64 { return w.enc.Size() }

// Commit finishes the file and makes it and its directory entry durable.
// Only after it returns nil may the message be acknowledged.
func (w *Writer) Commit() error {
	err := w.enc.Finish()
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = w.q.syncers[filepath.Dir(w.path)].Sync()
	}
	if err != nil {
		os.Remove(w.path)
		return fmt.Errorf("queue %s: %w", w.ID, err)
	}
	return nil
}

// Abort discards the file.
func (w *Writer) Abort() error {
	w.f.Close()
	if err := os.Remove(w.path); err != nil {
		return fmt.Errorf("queue %s: %w", w.ID, err)
	}
	return nil
}
