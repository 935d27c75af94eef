package control

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"mailhorn/internal/durable"
	"mailhorn/internal/queue"
)

// TempMaxAge is how old a temporary file must be before Purge removes it
// (postsuper's MAX_TEMP_AGE): no writer takes that long, so it is never
// one still being written.
const TempMaxAge = 24 * time.Hour

// messageDirs are the queues whose files are messages.
var messageDirs = []string{queue.Incoming, queue.Active, queue.Deferred, queue.Hold}

// hashed tells whether a queue is spread over 16 subdirectories.
func hashed(name string) bool {
	return name == queue.Incoming || name == queue.Deferred || name == queue.Hold
}

func isHashDir(name string) bool {
	return len(name) == 1 && ('0' <= name[0] && name[0] <= '9' || 'A' <= name[0] && name[0] <= 'F')
}

// visit calls fn for every entry of a message queue: the top level and,
// one level down, the hash subdirectories (named by one hex digit), never
// following a symbolic link. Other subdirectories are passed to fn as they
// are, not entered.
func visit(root, name string, fn func(rel string, d fs.DirEntry) error) error {
	top := filepath.Join(root, name)
	ents, err := os.ReadDir(top)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("queue: scan %s: %w", top, err)
	}
	for _, e := range ents {
		rel := filepath.Join(name, e.Name())
		if e.IsDir() && isHashDir(e.Name()) {
			sub, err := os.ReadDir(filepath.Join(root, rel))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("queue: scan %s: %w", rel, err)
			}
			for _, s := range sub {
				if err := fn(filepath.Join(rel, s.Name()), s); err != nil {
					return err
				}
			}
			continue
		}
		if err := fn(rel, e); err != nil {
			return err
		}
	}
	return nil
}

// Purge removes, from incoming/, active/, deferred/ and hold/, what
// postsuper -p removes: objects that are not regular files (symbolic links,
// FIFOs, sockets), and files older than TempMaxAge that cannot hold an
// acknowledged message — a name that is not a queue ID, or a queue file
// without its end record (its writer died). A complete queue file is never
// removed, however old, nor one that does not parse (the queue manager
// moves those to corrupt/). fn, if not nil, gets each path removed,
// relative to the queue directory.
func Purge(ctx context.Context, q *queue.Queue, now time.Time, fn func(path string)) (int, error) {
	root := q.Dir()
	n := 0
	for _, name := range messageDirs {
		err := visit(root, name, func(rel string, d fs.DirEntry) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			path := filepath.Join(root, rel)
			if d.Type().IsRegular() {
				info, err := d.Info()
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				if err != nil {
					return err
				}
				if now.Sub(info.ModTime()) <= TempMaxAge {
					return nil
				}
				if queue.ValidID(d.Name()) && !incomplete(path) {
					return nil
				}
			}
			if err := os.Remove(path); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return fmt.Errorf("queue: purge %s: %w", rel, err)
			}
			n++
			if fn != nil {
				fn(rel)
			}
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// incomplete tells whether a queue file lacks its end record. Any other
// problem (a file that does not parse, one that cannot be read) counts as
// complete: when in doubt, keep.
func incomplete(path string) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	_, err = queue.Decode(f, st.Size())
	return errors.Is(err, queue.ErrIncomplete)
}

// Fix is one thing Repair did or found.
type Fix struct {
	Kind   string // "renamed", "removed", "removed directory", "created directory", "mode", "owner", "warning"
	Path   string // relative to the queue directory
	Target string // renamed: the new path
	Detail string // mode/owner: the new value; warning: the problem
}

func (f Fix) String() string {
	switch f.Kind {
	case "renamed":
		return fmt.Sprintf("renamed file %s as %s", f.Path, f.Target)
	case "removed":
		return "removed file " + f.Path
	case "mode", "owner":
		return fmt.Sprintf("set %s of %s to %s", f.Kind, f.Path, f.Detail)
	case "warning":
		return fmt.Sprintf("%s: %s", f.Detail, f.Path)
	default:
		return f.Kind + " " + f.Path
	}
}

// RepairOptions tune Repair.
type RepairOptions struct {
	// UID and GID own the queue (mail_owner); -1 leaves ownership alone
	// (only root can change it).
	UID, GID int
}

// Repair is postsuper -s: it puts every message file of incoming/,
// active/, deferred/ and hold/ where the queue looks for it (the hash
// subdirectory of its ID; files in active/, which mailhorn does not use,
// go to incoming/), creates missing hash subdirectories, removes empty
// alien subdirectories and objects that are not regular files, and sets
// modes (directories 0700, files 0600) and, if asked, ownership of those
// queues and corrupt/. maildrop/ is left alone: its files belong to their
// submitters. Files with names that are not queue IDs are reported, not
// touched (Purge removes them once old).
//
// It returns the messages it moved into incoming/ or deferred/: a running
// queue manager must be told of them (Requeue), since it scans incoming/
// only at start.
func Repair(ctx context.Context, q *queue.Queue, o RepairOptions, fn func(Fix)) ([]queue.Entry, error) {
	root := q.Dir()
	report := func(f Fix) {
		if fn != nil {
			fn(f)
		}
	}
	perm := func(rel string, want os.FileMode, info fs.FileInfo) error {
		path := filepath.Join(root, rel)
		if info.Mode().Perm() != want {
			if err := os.Chmod(path, want); err != nil {
				return fmt.Errorf("queue: chmod %s: %w", rel, err)
			}
			report(Fix{Kind: "mode", Path: rel, Detail: fmt.Sprintf("%04o", want)})
		}
		if o.UID < 0 {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != o.UID || int(st.Gid) != o.GID) {
			if err := os.Lchown(path, o.UID, o.GID); err != nil {
				return fmt.Errorf("queue: chown %s: %w", rel, err)
			}
			report(Fix{Kind: "owner", Path: rel, Detail: fmt.Sprintf("%d:%d", o.UID, o.GID)})
		}
		return nil
	}
	dir := func(rel string) error {
		path := filepath.Join(root, rel)
		info, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.Mkdir(path, 0o700); err != nil {
				return fmt.Errorf("queue: mkdir %s: %w", rel, err)
			}
			report(Fix{Kind: "created directory", Path: rel})
			info, err = os.Lstat(path)
		}
		if err != nil {
			return fmt.Errorf("queue: %w", err)
		}
		if !info.IsDir() {
			return fmt.Errorf("queue: %s is not a directory", rel)
		}
		return perm(rel, 0o700, info)
	}

	var moved []queue.Entry
	for _, name := range append([]string{queue.Corrupt}, messageDirs...) {
		if err := dir(name); err != nil {
			return moved, err
		}
		if hashed(name) {
			for i := 0; i < 16; i++ {
				if err := dir(filepath.Join(name, fmt.Sprintf("%X", i))); err != nil {
					return moved, err
				}
			}
		}
		err := visit(root, name, func(rel string, d fs.DirEntry) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			path := filepath.Join(root, rel)
			info, err := d.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			switch {
			case d.IsDir():
				if err := os.Remove(path); err == nil {
					report(Fix{Kind: "removed directory", Path: rel})
				} else {
					report(Fix{Kind: "warning", Path: rel, Detail: "cannot remove alien directory"})
				}
				return nil
			case !d.Type().IsRegular():
				if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("queue: remove %s: %w", rel, err)
				}
				report(Fix{Kind: "removed", Path: rel})
				return nil
			}
			if err := perm(rel, 0o600, info); err != nil {
				return err
			}
			if name == queue.Corrupt {
				return nil
			}
			id := d.Name()
			if !queue.ValidID(id) {
				report(Fix{Kind: "warning", Path: rel, Detail: "bogus file name"})
				return nil
			}
			to := name
			if name == queue.Active {
				to = queue.Incoming
			}
			want := q.Path(to, id)
			if want == path {
				return nil
			}
			if _, err := os.Lstat(want); err == nil {
				report(Fix{Kind: "warning", Path: rel, Detail: "not moved: a file of that name exists at the right place"})
				return nil
			}
			if err := os.Rename(path, want); err != nil {
				return fmt.Errorf("queue: rename %s: %w", rel, err)
			}
			if err := durable.SyncDir(filepath.Dir(want)); err != nil {
				return fmt.Errorf("queue: rename %s: %w", rel, err)
			}
			wrel, _ := filepath.Rel(root, want)
			report(Fix{Kind: "renamed", Path: rel, Target: wrel})
			if to != queue.Hold {
				moved = append(moved, queue.Entry{ID: id, Queue: to, Mtime: info.ModTime()})
			}
			return nil
		})
		if err != nil {
			return moved, err
		}
	}
	// active/ holds nothing in mailhorn: drop the hash subdirectories a
	// Postfix-style layout may have left there, if empty.
	for i := 0; i < 16; i++ {
		rel := filepath.Join(queue.Active, fmt.Sprintf("%X", i))
		if err := os.Remove(filepath.Join(root, rel)); err == nil {
			report(Fix{Kind: "removed directory", Path: rel})
		}
	}
	return moved, nil
}
