package maps

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// fileID identifies one version of a file: a replacement (rename over it)
// changes the inode, an in-place rewrite the size or mtime.
type fileID struct {
	dev, ino uint64
	size     int64
	mtime    time.Time
}

func statID(path string) (fileID, os.FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return fileID{}, nil, err
	}
	id := fileID{size: st.Size(), mtime: st.ModTime()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(sys.Dev), uint64(sys.Ino)
	}
	return id, st, nil
}

// indexedTable is a hash:, btree: or cdb: table: the CDB file built from
// a source file by mailhorn map. Each lookup stats the CDB file and reopens
// it when it was replaced, so a rebuilt table is used without a restart.
type indexedTable struct {
	src, path string
	o         Options

	mu     sync.RWMutex
	db     *cdbFile
	id     fileID
	noFold bool
	warned bool // "older than source" said once
}

func openIndexed(name string, o Options) (Table, error) {
	t := &indexedTable{src: name, path: IndexedPath(name), o: o}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.reopenLocked(); err != nil {
		return nil, err
	}
	return t, nil
}

// reopenLocked opens the current CDB file; t.mu is held for writing.
func (t *indexedTable) reopenLocked() error {
	id, st, err := statID(t.path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		if errors.Is(err, fs.ErrNotExist) {
			src := strings.TrimSuffix(t.path, ".cdb")
			return fmt.Errorf("open database %s: %w (build it with \"mailhorn map hash:%s\", or \"mailhorn newaliases\" for an aliases file)", t.path, err, src)
		}
		return fmt.Errorf("open database %s: %w", t.path, err)
	}
	db, err := openCDB(t.path)
	if err != nil {
		return fmt.Errorf("open database %s: %w", t.path, err)
	}
	v, _, err := db.Get([]byte(metaKey))
	if err != nil {
		db.Close()
		return fmt.Errorf("open database %s: %w", t.path, err)
	}
	if t.db != nil {
		t.db.Close()
	}
	t.db, t.id, t.noFold = db, id, string(v) == metaNoFold
	if sst, err := os.Stat(t.src); err == nil && sst.ModTime().After(st.ModTime()) && !t.warned {
		t.warned = true
		t.o.warn(fmt.Sprintf("database %s is older than source file %s", t.path, t.src))
	}
	return nil
}

// current makes sure the open file is the one at t.path.
func (t *indexedTable) current() error {
	id, _, err := statID(t.path)
	if err != nil {
		return fmt.Errorf("table %s: %w", t.path, err)
	}
	t.mu.RLock()
	same := id == t.id && t.db != nil
	t.mu.RUnlock()
	if same {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.db != nil && id == t.id {
		return nil
	}
	return t.reopenLocked()
}

func (t *indexedTable) Lookup(ctx context.Context, key string) (string, bool, error) {
	if err := t.current(); err != nil {
		return "", false, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if !t.noFold && !t.o.NoFold {
		key = fold(key)
	}
	if key == metaKey {
		return "", false, nil
	}
	v, ok, err := t.db.Get([]byte(key))
	if err != nil {
		return "", false, fmt.Errorf("table %s: %w", t.path, err)
	}
	return string(v), ok, nil
}

// ForEach calls fn for every entry of the table, in file order.
func (t *indexedTable) ForEach(fn func(key, value string) error) error {
	if err := t.current(); err != nil {
		return err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.db.ForEach(func(k, v []byte) error {
		if len(k) == 0 {
			return nil // the flags record
		}
		return fn(string(k), string(v))
	})
}

func (t *indexedTable) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.db == nil {
		return nil
	}
	err := t.db.Close()
	t.db = nil
	return err
}

// Dumper is implemented by tables that can list their entries (postmap -s).
type Dumper interface {
	ForEach(fn func(key, value string) error) error
}
