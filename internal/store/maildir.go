package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mailhorn/internal/durable"
)

// Maildir is the path of one Maildir folder (the directory holding tmp, new
// and cur).
type Maildir string

// Init creates the folder's tmp, new and cur directories when missing.
func (m Maildir) Init(perm fs.FileMode) error {
	for _, d := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(string(m), d), perm); err != nil {
			return fmt.Errorf("maildir %s: %w", m, err)
		}
	}
	return nil
}

// Writer delivers messages into Maildirs. One Writer serves every mailbox of
// a process; it shares directory fsyncs between concurrent deliveries into
// the same folder.
type Writer struct {
	host    string
	pid     int
	counter atomic.Uint64
	now     func() time.Time

	mu      sync.Mutex
	syncers map[string]*durable.DirSyncer

	// OnDeliver, when set, is called after each successful Deliver with
	// the folder's path (Store.Notify: open sessions see the message at
	// once). Set it before the first Deliver.
	OnDeliver func(maildir string)
}

// NewWriter returns a Writer naming files after host.
func NewWriter(host string) *Writer {
	return &Writer{host: maildirHost(host), pid: os.Getpid(), now: time.Now, syncers: map[string]*durable.DirSyncer{}}
}

// maildirHost encodes the characters the Maildir name syntax reserves, as the
// specification asks: "/" as \057 and ":" as \072.
func maildirHost(h string) string {
	h = strings.ReplaceAll(h, "/", `\057`)
	return strings.ReplaceAll(h, ":", `\072`)
}

func (w *Writer) syncer(dir string) *durable.DirSyncer {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.syncers[dir]
	if !ok {
		s = durable.NewDirSyncer(dir)
		w.syncers[dir] = s
	}
	return s
}

// uniqueName is "sec.MusecPpidQn.host,S=size".
func (w *Writer) uniqueName(size int64) string {
	t := w.now()
	n := w.counter.Add(1)
	// Zero-padded microseconds, so that plain name order (ls, other
	// Maildir readers) is delivery order too.
	usec := strconv.Itoa(1000000 + t.Nanosecond()/1000)[1:]
	return strconv.FormatInt(t.Unix(), 10) + ".M" + usec +
		"P" + strconv.Itoa(w.pid) + "Q" + strconv.FormatUint(n, 10) + "." + w.host +
		",S=" + strconv.FormatInt(size, 10)
}

// Content is what Deliver writes: a prefix (the headers the delivery agent
// adds, such as Return-Path and Delivered-To) and then Size bytes of Body.
// When Body is an *os.File positioned at the content, the copy happens in
// the kernel.
type Content struct {
	Prefix []byte
	Body   io.Reader
	Size   int64
	// Owner, when set, is given the file (the process must be root).
	Owner *Owner
}

// Owner is a numeric user and group.
type Owner struct{ UID, GID int }

// InitOwned is Init, then gives the folder and its subdirectories to o
// (when o is set): the first delivery into a mailbox creates it.
func (m Maildir) InitOwned(perm fs.FileMode, o *Owner) error {
	if err := m.Init(perm); err != nil {
		return err
	}
	if o == nil {
		return nil
	}
	for _, d := range []string{"", "tmp", "new", "cur"} {
		if err := os.Chown(filepath.Join(string(m), d), o.UID, o.GID); err != nil {
			return fmt.Errorf("maildir %s: %w", m, err)
		}
	}
	return nil
}

// ErrShortContent is returned when Body ends before Size bytes.
var ErrShortContent = errors.New("message content shorter than announced")

// Deliver writes c into new/ of the Maildir and returns the file's name once
// it is durable. The folder must exist (Init).
func (w *Writer) Deliver(ctx context.Context, m Maildir, c Content) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	size := int64(len(c.Prefix)) + c.Size
	name := w.uniqueName(size)
	tmp := filepath.Join(string(m), "tmp", name)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", fmt.Errorf("maildir %s: create: %w", m, err)
	}
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(tmp)
		return "", fmt.Errorf("maildir %s: %w", m, err)
	}
	if c.Owner != nil {
		if err := f.Chown(c.Owner.UID, c.Owner.GID); err != nil {
			return fail(err)
		}
	}
	if _, err := f.Write(c.Prefix); err != nil {
		return fail(err)
	}
	// io.Copy with a LimitedReader over an *os.File lets the runtime use
	// copy_file_range: the body never passes through user space.
	n, err := io.Copy(f, &io.LimitedReader{R: c.Body, N: c.Size})
	if err != nil {
		return fail(err)
	}
	if n != c.Size {
		return fail(ErrShortContent)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("maildir %s: %w", m, err)
	}
	newDir := filepath.Join(string(m), "new")
	if err := os.Rename(tmp, filepath.Join(newDir, name)); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("maildir %s: %w", m, err)
	}
	if err := w.syncer(newDir).Sync(); err != nil {
		// The file is in new/ but may not survive a crash: report failure so
		// the queue retries; a duplicate beats a loss.
		return "", fmt.Errorf("maildir %s: sync: %w", m, err)
	}
	if w.OnDeliver != nil {
		w.OnDeliver(string(m))
	}
	return name, nil
}
