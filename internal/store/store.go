package store

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// flushTimeout bounds the wait for another process's index lock when
// cache values are written at close.
const flushTimeout = 5 * time.Second

// storeImpl holds the folders open in this process.
type storeImpl struct {
	log        *slog.Logger
	owner      *Owner
	specialUse map[string]string
	writer     *Writer // names appended files

	mu      sync.Mutex
	folders map[string]*folder
}

func newStore(o Options) *Store {
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	su := o.SpecialUse
	if su == nil {
		su = map[string]string{"Sent": UseSent, "Drafts": UseDrafts, "Trash": UseTrash, "Junk": UseJunk, "Archive": UseArchive}
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	return &Store{impl: &storeImpl{log: log, owner: o.Owner, specialUse: su, writer: NewWriter(host), folders: map[string]*folder{}}}
}

// own gives a file or directory the store's owner, when one is set.
func (s *storeImpl) own(path string) error {
	if s.owner == nil {
		return nil
	}
	return os.Lchown(path, s.owner.UID, s.owner.GID)
}

// acquire returns the shared state of a folder of the tree at root,
// counting a reference.
func (s *storeImpl) acquire(root, dir string) *folder {
	dir = filepath.Clean(dir)
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.folders[dir]
	if !ok {
		f = &folder{st: s, root: root, dir: dir, views: map[*mailboxImpl]struct{}{}}
		s.folders[dir] = f
	}
	f.refs++
	return f
}

// release drops a reference; the last one flushes the cache and forgets
// the folder.
func (s *storeImpl) release(f *folder) {
	s.mu.Lock()
	f.refs--
	last := f.refs == 0
	if last && s.folders[f.dir] == f {
		delete(s.folders, f.dir)
	}
	s.mu.Unlock()
	if last {
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		defer cancel()
		f.mu.Lock()
		f.flushCache(ctx)
		f.mu.Unlock()
	}
}

// forget detaches the folders at dir and below (renamed or deleted): their
// views get ErrNoMailbox at the next Sync.
func (s *storeImpl) forget(dir string) {
	dir = filepath.Clean(dir)
	s.mu.Lock()
	var gone []*folder
	for p, f := range s.folders {
		if p == dir {
			delete(s.folders, p)
			gone = append(gone, f)
		}
	}
	s.mu.Unlock()
	for _, f := range gone {
		f.mu.Lock()
		f.gone = true
		f.wake(nil)
		f.mu.Unlock()
	}
}

func (s *storeImpl) notify(maildir string) {
	s.mu.Lock()
	f := s.folders[filepath.Clean(maildir)]
	s.mu.Unlock()
	if f == nil {
		return
	}
	f.mu.Lock()
	f.wake(nil)
	f.mu.Unlock()
}

func (s *storeImpl) close() error {
	s.mu.Lock()
	all := make([]*folder, 0, len(s.folders))
	for _, f := range s.folders {
		all = append(all, f)
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	for _, f := range all {
		f.mu.Lock()
		f.flushCache(ctx)
		f.mu.Unlock()
	}
	return nil
}

// flushCache writes pending cache values (f.mu held); failures are only
// logged: the cache is an optimisation.
func (f *folder) flushCache(ctx context.Context) {
	if !f.cache.loaded || f.gone {
		return
	}
	unlock, err := f.lock(ctx)
	if err != nil {
		f.st.log.Warn("mailbox cache not written", "maildir", f.dir, "error", err)
		return
	}
	defer unlock()
	if err := f.cache.flush(f.dir, f.st.own); err != nil {
		f.st.log.Warn("mailbox cache not written", "maildir", f.dir, "error", err)
	}
}

// folderDir is the Maildir of a canonical mailbox name under root.
func folderDir(root, name string) string {
	if isInbox(name) {
		return root
	}
	return filepath.Join(root, dirName(name))
}

// isFolderDir reports whether dir holds a Maildir (cur/ exists).
func isFolderDir(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, "cur"))
	return err == nil && st.IsDir()
}

// hasPrefixDir: is child a Maildir++ sub-folder directory name of parent
// (".A.B" of ".A")?
func hasPrefixDir(child, parent string) bool {
	return strings.HasPrefix(child, parent+".")
}
